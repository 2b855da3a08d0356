/*
 * The built-in engine's per-frame kernels (framecast/engines/flow.py and builtin.py call them):
 *
 * - inbetween: the per-frame half of first/last in-betweening, fused into one pass (below);
 * - upsample2: the exact 2x cubic upsampling small-motion pairs are sampled from;
 * - zoom: the camera moves, a bilinear resampling of an axis-aligned window of the frame;
 * - camera: a pan, tilt or zoom between two keyframes (camera.py), both windows and their blend.
 *
 * Every array argument's shape and row stride are read from its buffer (Py_buffer); pixels are
 * contiguous within a row.
 *
 * inbetween, the per-frame half of the first/last in-betweening:
 *
 * For every output pixel p at time t (see framecast/engines/flow.py for where the inputs come from):
 *
 *     q0 = s p + a0 f01(p) + b0 f10(p)        sample position in source 0 (the first keyframe)
 *     q1 = s p + a1 f01(p) + b1 f10(p)        sample position in source 1 (the last keyframe)
 *     warp = (1 - t) bilinear(src0, q0) + t bilinear(src1, q1)
 *     fade = (1 - t) first(p) + t last(p)
 *     out  = lam(p) warp + (1 - lam(p)) fade
 *
 * ``s`` is 1, or 2 when the sources are the keyframes' 2x upsampling; the fade always reads the
 * (padded) keyframes. Positions are clamped to the source, which is what BORDER_REPLICATE gives for
 * bilinear sampling.
 *
 * Why a kernel of our own: done with OpenCV this is two remaps, two colour conversions and five
 * arithmetic passes, each a full trip through memory; on the project's machines that cost 24 ms per
 * 720p frame, about as much CPU as libx264 spends encoding it. Here each pixel is read once and every
 * weight is folded into one integer multiply-accumulate per neighbour pair.
 *
 * Fixed point: positions are rounded to 1/64 pixel (OpenCV's remap uses 1/32). The horizontal step
 * gives value*64; the vertical weights carry (1/64 steps) x (share of the result, /256), so every
 * term ends as value * 2^20 and the sum of all shares is exactly 256: one rounding, at the end.
 * The SIMD paths (SSE4.1, four pixels at a time; for inbetween and camera_flow also AVX2, eight at a
 * time) and the portable scalar path do the same integer arithmetic and produce identical bytes (the
 * tests check this); positions are computed in float with the same operation order in all of them
 * (which is why the build turns off floating-point contraction: see pyproject.toml). Which path runs is
 * decided once, at import, from what the CPU reports.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FC_HAVE_SSE41 1
#include <immintrin.h>
#endif

typedef struct {
    const uint8_t *src0, *src1;   /* RGB sources with >= 1 replicated row and 2 columns of padding */
    Py_ssize_t stride;            /* bytes per source row */
    const uint8_t *fade0, *fade1; /* the keyframes, padded alike (the sources themselves when s = 1) */
    Py_ssize_t fade_stride;
    float xmax64, ymax64;         /* last valid source column and row, in 1/64 px */
    int scale;                    /* source pixels per output pixel: 1 or 2 */
    const float *f01, *f10;       /* output-resolution flows (h, w, 2), in source pixels */
    const uint8_t *lam;           /* (h, w) warp share 0..255, or NULL for 255 everywhere (no fade) */
    uint8_t *out;                 /* (h, w, 3) */
    int width;
    float a0, b0, a1, b1;         /* the flow weights, times 64: positions come out in 1/64 px */
    int32_t t256;                 /* round(256 t) */
} Job;

/* The four shares of one pixel, in 1/256: warp from source 0 and 1, fade from first and last. */
typedef struct {
    int32_t c0, c1, d0, d1;
} Shares;

static inline Shares shares(int32_t lam8, int32_t t256) {
    Shares s;
    int32_t lw = lam8 + (lam8 >> 7); /* 0..255 -> 0..256, 255 -> 256 */
    int32_t fw = 256 - lw;
    s.c0 = (lw * (256 - t256) + 128) >> 8;
    s.c1 = lw - s.c0;
    s.d0 = (fw * (256 - t256) + 128) >> 8;
    s.d1 = fw - s.d0;
    return s;
}

static inline float clampf(float v, float hi) {
    /* Same results as the SSE max/min pair below, NaN included (NaN -> 0). */
    v = v > 0.0f ? v : 0.0f;
    return v < hi ? v : hi;
}

/* value * 4096 * c for each channel of a bilinear sample at (xf, yf), in 1/64 px. */
static inline void sample_scalar(Py_ssize_t stride, const uint8_t *src, int32_t xf, int32_t yf, int32_t c,
                                 int32_t acc[3]) {
    int32_t fx = xf & 63, fy = yf & 63;
    const uint8_t *top = src + (Py_ssize_t)(yf >> 6) * stride + (Py_ssize_t)(xf >> 6) * 3;
    const uint8_t *bot = top + stride;
    int32_t wt = (64 - fy) * c, wb = fy * c;
    for (int k = 0; k < 3; k++) {
        int32_t ht = top[k] * (64 - fx) + top[k + 3] * fx;
        int32_t hb = bot[k] * (64 - fx) + bot[k + 3] * fx;
        acc[k] += ht * wt + hb * wb;
    }
}

/* One output row's inputs and output. */
typedef struct {
    const float *u, *v;                /* the two flows */
    const uint8_t *lam;                /* NULL: no fade */
    const uint8_t *first, *last;       /* padded keyframes, for the fade */
    uint8_t *out;
} Row;

static inline Row row_of(const Job *j, int y) {
    Row r;
    r.u = j->f01 + (size_t)y * j->width * 2;
    r.v = j->f10 + (size_t)y * j->width * 2;
    r.lam = j->lam ? j->lam + (size_t)y * j->width : NULL;
    r.first = j->fade0 + (Py_ssize_t)y * j->fade_stride;
    r.last = j->fade1 + (Py_ssize_t)y * j->fade_stride;
    r.out = j->out + (size_t)y * j->width * 3;
    return r;
}

static void pixels_scalar(const void *job, int y, int x_begin, int x_end) {
    const Job *j = job;
    const Row r = row_of(j, y);
    const float *u = r.u, *v = r.v;
    const uint8_t *lam = r.lam, *first = r.first, *last = r.last;
    uint8_t *out = r.out;
    const float gy = (float)(64 * j->scale * y);
    for (int x = x_begin; x < x_end; x++) {
        const float gx = (float)(64 * j->scale * x);
        const float ux = u[2 * x], uy = u[2 * x + 1], vx = v[2 * x], vy = v[2 * x + 1];
        const float x0 = clampf((gx + j->a0 * ux) + j->b0 * vx, j->xmax64);
        const float y0 = clampf((gy + j->a0 * uy) + j->b0 * vy, j->ymax64);
        const float x1 = clampf((gx + j->a1 * ux) + j->b1 * vx, j->xmax64);
        const float y1 = clampf((gy + j->a1 * uy) + j->b1 * vy, j->ymax64);
        const Shares s = shares(lam ? lam[x] : 255, j->t256);
        int32_t acc[3] = {0, 0, 0};
        sample_scalar(j->stride, j->src0, (int32_t)lrintf(x0), (int32_t)lrintf(y0), s.c0, acc);
        sample_scalar(j->stride, j->src1, (int32_t)lrintf(x1), (int32_t)lrintf(y1), s.c1, acc);
        for (int k = 0; k < 3; k++) {
            acc[k] += (first[3 * x + k] * 64) * (64 * s.d0) + (last[3 * x + k] * 64) * (64 * s.d1);
            out[3 * x + k] = (uint8_t)((acc[k] + (1 << 19)) >> 20);
        }
    }
}

#ifdef FC_HAVE_SSE41
#define FC_SSE41 __attribute__((target("sse4.1")))
/* The AVX2 bodies (inbetween, camera_flow): every float operation of the SSE4.1 twin in the same order
 * on eight lanes (no fused multiply-add: the target adds none and the build forbids contraction), so
 * the bytes are those of the other two paths. Bilinear samples go two pixels to a register, pixel k
 * in the low 128-bit lane and k + 4 in the high one, so every byte shuffle stays within its lane. */
#define FC_AVX2 __attribute__((target("avx2")))

/* One pixel's bilinear sample, value * 4096 * share per channel (RGB, 4th lane 0). ``hw`` holds the
 * horizontal weight pair (64 - fx, fx) in every 16-bit lane, ``vw`` ((64 - fy) c, fy c) in every
 * 32-bit lane. */
FC_SSE41 static inline __m128i sample_sse41(const uint8_t *at, Py_ssize_t stride, __m128i hw, __m128i vw,
                                            __m128i pair_bytes) {
    __m128i top = _mm_loadl_epi64((const __m128i *)at);
    __m128i bot = _mm_loadl_epi64((const __m128i *)(at + stride));
    /* [t.r t'.r t.g t'.g t.b t'.b 0 0 | same for the row below], t' the right-hand neighbour */
    __m128i pairs = _mm_shuffle_epi8(_mm_unpacklo_epi64(top, bot), pair_bytes);
    __m128i h = _mm_maddubs_epi16(pairs, hw);                     /* top r g b 0, bottom r g b 0 */
    __m128i tb = _mm_unpacklo_epi16(h, _mm_unpackhi_epi64(h, h)); /* top.r bot.r top.g bot.g ... */
    return _mm_madd_epi16(tb, vw);
}

/* Sample positions of four pixels in one source: byte offsets, and the weight words sample_sse41
 * takes (horizontal pair in the low 16 bits of each lane, vertical pair as two 16-bit halves). */
typedef struct {
    __m128i off, hw, vw;
} Taps;

FC_SSE41 static inline Taps taps_sse41(__m128 px, __m128 py, __m128 xmax64, __m128 ymax64, __m128i stride4,
                                       __m128i cpair) {
    const __m128 zero = _mm_setzero_ps();
    const __m128i m63 = _mm_set1_epi32(63), i64 = _mm_set1_epi32(64);
    Taps r;
    __m128i xf = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(px, zero), xmax64));
    __m128i yf = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(py, zero), ymax64));
    __m128i xi = _mm_srai_epi32(xf, 6), fx = _mm_and_si128(xf, m63);
    __m128i yi = _mm_srai_epi32(yf, 6), fy = _mm_and_si128(yf, m63);
    r.off = _mm_add_epi32(_mm_mullo_epi32(yi, stride4), _mm_add_epi32(_mm_add_epi32(xi, xi), xi));
    r.hw = _mm_sub_epi32(_mm_add_epi32(i64, _mm_slli_epi32(fx, 8)), fx); /* (64 - fx) | fx << 8 */
    /* ((64 - fy) | fy << 16) * (c | c << 16), lane-wise in 16 bits: both products stay below 2^15 */
    r.vw = _mm_mullo_epi16(_mm_add_epi32(_mm_sub_epi32(i64, fy), _mm_slli_epi32(fy, 16)), cpair);
    return r;
}

/* Four pixels' two bilinear samples (one in each source, at the taps t0 and t1), summed per pixel:
 * value * 2^20 * share per channel, RGB and a 0 lane. */
FC_SSE41 static inline void samples4_sse41(__m128i res[4], const uint8_t *src0, const uint8_t *src1,
                                           Py_ssize_t stride, Taps t0, Taps t1) {
    const __m128i pair_bytes = _mm_setr_epi8(0, 3, 1, 4, 2, 5, -1, -1, 8, 11, 9, 12, 10, 13, -1, -1);
    /* pshufb masks broadcasting the low 16 bits of 32-bit lane k */
    const __m128i lane16[4] = {
        _mm_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1),
        _mm_setr_epi8(4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5),
        _mm_setr_epi8(8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9),
        _mm_setr_epi8(12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13),
    };
    int32_t off0[4], off1[4];
    _mm_storeu_si128((__m128i *)off0, t0.off);
    _mm_storeu_si128((__m128i *)off1, t1.off);
#define FC_PIXEL(K)                                                                                    \
    res[K] = _mm_add_epi32(                                                                            \
        sample_sse41(src0 + off0[K], stride, _mm_shuffle_epi8(t0.hw, lane16[K]),                       \
                     _mm_shuffle_epi32(t0.vw, (K) * 0x55), pair_bytes),                                \
        sample_sse41(src1 + off1[K], stride, _mm_shuffle_epi8(t1.hw, lane16[K]),                       \
                     _mm_shuffle_epi32(t1.vw, (K) * 0x55), pair_bytes))
    FC_PIXEL(0);
    FC_PIXEL(1);
    FC_PIXEL(2);
    FC_PIXEL(3);
#undef FC_PIXEL
}

/* Four pixels' sums (value * 2^20) rounded once and stored as their 12 RGB bytes. */
FC_SSE41 static inline void store4_sse41(uint8_t *out, __m128i res[4]) {
    const __m128i round20 = _mm_set1_epi32(1 << 19);
    const __m128i rgb_bytes = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    for (int k = 0; k < 4; k++)
        res[k] = _mm_srai_epi32(_mm_add_epi32(res[k], round20), 20);
    __m128i packed = _mm_packus_epi16(_mm_packs_epi32(res[0], res[1]), _mm_packs_epi32(res[2], res[3]));
    packed = _mm_shuffle_epi8(packed, rgb_bytes);
    _mm_storel_epi64((__m128i *)out, packed);
    int32_t tail = _mm_cvtsi128_si32(_mm_srli_si128(packed, 8));
    memcpy(out + 8, &tail, 4);
}

FC_SSE41 static void pixels_sse41(const void *job, int y, int x_begin, int x_end) {
    const Job *j = job;
    const Row r = row_of(j, y);
    const float *u = r.u, *v = r.v;
    const uint8_t *lam = r.lam, *first = r.first, *last = r.last;
    uint8_t *out = r.out;
    const uint8_t *src0 = j->src0, *src1 = j->src1;
    const Py_ssize_t stride = j->stride;

    const __m128 a0 = _mm_set1_ps(j->a0), b0 = _mm_set1_ps(j->b0);
    const __m128 a1 = _mm_set1_ps(j->a1), b1 = _mm_set1_ps(j->b1);
    const __m128 xmax64 = _mm_set1_ps(j->xmax64), ymax64 = _mm_set1_ps(j->ymax64);
    const __m128 gy = _mm_set1_ps((float)(64 * j->scale * y));
    const float s64 = (float)(64 * j->scale);
    const __m128 steps = _mm_set_ps(3.0f * s64, 2.0f * s64, s64, 0.0f);
    const __m128i stride4 = _mm_set1_epi32((int32_t)stride);
    const __m128i i128 = _mm_set1_epi32(128), i256 = _mm_set1_epi32(256);
    const __m128i rest_t = _mm_sub_epi32(i256, _mm_set1_epi32(j->t256));
    const __m128i zero = _mm_setzero_si128();
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);

    for (int x = x_begin; x + 4 <= x_end; x += 4) {
        __m128 ulo = _mm_loadu_ps(u + 2 * x), uhi = _mm_loadu_ps(u + 2 * x + 4);
        __m128 vlo = _mm_loadu_ps(v + 2 * x), vhi = _mm_loadu_ps(v + 2 * x + 4);
        __m128 ux = _mm_shuffle_ps(ulo, uhi, _MM_SHUFFLE(2, 0, 2, 0));
        __m128 uy = _mm_shuffle_ps(ulo, uhi, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 vx = _mm_shuffle_ps(vlo, vhi, _MM_SHUFFLE(2, 0, 2, 0));
        __m128 vy = _mm_shuffle_ps(vlo, vhi, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 gx = _mm_add_ps(_mm_set1_ps((float)(64 * j->scale * x)), steps);

        __m128i lw = _mm_set1_epi32(256), fwt = zero;
        if (lam) {
            int32_t four;
            memcpy(&four, lam + x, 4);
            __m128i lam8 = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
            lw = _mm_add_epi32(lam8, _mm_srli_epi32(lam8, 7));
            fwt = _mm_sub_epi32(i256, lw);
        }
        __m128i c0 = _mm_srli_epi32(_mm_add_epi32(_mm_mullo_epi32(lw, rest_t), i128), 8);
        __m128i c1 = _mm_sub_epi32(lw, c0);
        Taps p0 = taps_sse41(_mm_add_ps(_mm_add_ps(gx, _mm_mul_ps(a0, ux)), _mm_mul_ps(b0, vx)),
                             _mm_add_ps(_mm_add_ps(gy, _mm_mul_ps(a0, uy)), _mm_mul_ps(b0, vy)), xmax64,
                             ymax64, stride4, _mm_or_si128(c0, _mm_slli_epi32(c0, 16)));
        Taps p1 = taps_sse41(_mm_add_ps(_mm_add_ps(gx, _mm_mul_ps(a1, ux)), _mm_mul_ps(b1, vx)),
                             _mm_add_ps(_mm_add_ps(gy, _mm_mul_ps(a1, uy)), _mm_mul_ps(b1, vy)), xmax64,
                             ymax64, stride4, _mm_or_si128(c1, _mm_slli_epi32(c1, 16)));
        __m128i res[4];
        samples4_sse41(res, src0, src1, stride, p0, p1);
        if (lam) {
            /* The fade of four neighbouring pixels: (first * 64, last * 64) pairs by (64 d0, 64 d1). */
            __m128i d0 = _mm_srli_epi32(_mm_add_epi32(_mm_mullo_epi32(fwt, rest_t), i128), 8);
            __m128i d1 = _mm_sub_epi32(fwt, d0);
            __m128i fw = _mm_or_si128(_mm_slli_epi32(d0, 6), _mm_slli_epi32(d1, 22));
            __m128i f = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(first + 3 * x)), spread);
            __m128i l = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(last + 3 * x)), spread);
            __m128i lo = _mm_unpacklo_epi8(f, l), hi = _mm_unpackhi_epi8(f, l);
            __m128i fl[4] = {_mm_unpacklo_epi8(lo, zero), _mm_unpackhi_epi8(lo, zero),
                             _mm_unpacklo_epi8(hi, zero), _mm_unpackhi_epi8(hi, zero)};
            res[0] = _mm_add_epi32(res[0], _mm_madd_epi16(_mm_slli_epi16(fl[0], 6), _mm_shuffle_epi32(fw, 0x00)));
            res[1] = _mm_add_epi32(res[1], _mm_madd_epi16(_mm_slli_epi16(fl[1], 6), _mm_shuffle_epi32(fw, 0x55)));
            res[2] = _mm_add_epi32(res[2], _mm_madd_epi16(_mm_slli_epi16(fl[2], 6), _mm_shuffle_epi32(fw, 0xAA)));
            res[3] = _mm_add_epi32(res[3], _mm_madd_epi16(_mm_slli_epi16(fl[3], 6), _mm_shuffle_epi32(fw, 0xFF)));
        }
        store4_sse41(out + 3 * x, res);
    }
}
#endif

static int use_sse41 = 0, use_avx2 = 0;

/* A kernel's row bodies: the AVX2 one does the row's first x_end pixels (a multiple of eight), the
 * SSE4.1 one [x_begin, x_end) (a multiple of four long), the portable one [x_begin, x_end). The job is
 * the kernel's own struct. */
typedef void (*WideRow)(const void *job, int y, int x_end);
typedef void (*SimdRow)(const void *job, int y, int x_begin, int x_end);
typedef void (*ScalarRow)(const void *job, int y, int x_begin, int x_end);
#ifdef FC_HAVE_SSE41
#define FC_SIMD_ROW(f) (f)
#else
#define FC_SIMD_ROW(f) NULL
#endif

/* How wide a call may go: its portable=True and avx2=False arguments. */
enum { FC_PORTABLE = 0, FC_UP_TO_SSE41 = 1, FC_UP_TO_AVX2 = 2 };

/* Rows [0, h) of ``width`` pixels: eight at a time where the AVX2 body exists, runs and is allowed, then
 * four at a time likewise in SSE4.1, the portable body for the rest of each row. With several jobs (the
 * same inputs, other times t), each row is done for every job before the next row: the row's flows and
 * source rows are then still in cache for the second job, where a whole frame's (tens of MB at 720p)
 * are not. Each job's bytes are what it gives alone. */
static void each_row(const void *const *jobs, int n_jobs, int h, int width, int level, WideRow wide, SimdRow simd,
                     ScalarRow scalar) {
    for (int y = 0; y < h; y++)
        for (int i = 0; i < n_jobs; i++) {
            const void *job = jobs[i];
            int done = 0;
            if (wide != NULL && level >= FC_UP_TO_AVX2 && use_avx2) {
                done = width & ~7;
                wide(job, y, done);
            }
            if (simd != NULL && level >= FC_UP_TO_SSE41 && use_sse41) {
                simd(job, y, done, width & ~3);
                done = width & ~3;
            }
            scalar(job, y, done, width);
        }
}

/* (b + c) / 2 on the cubic a = -0.75 (OpenCV's INTER_CUBIC) through a, b, c, d: weights (-3 19 19 -3)/32. */
static inline uint8_t half_cubic(int a, int b, int c, int d) {
    int v = ((19 * (b + c) - 3 * (a + d) + 16 + 2048) >> 5) - 64; /* + 2048: shift a non-negative value */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The 2x upsampling of (h, w, 3) ``img`` into ``dst``, (2h, 2w + 1, 3): even pixels are ``img``, odd
 * ones its half-way cubic interpolation, then one replicated row and two columns for the kernel.
 * ``mid`` is scratch space for one row of 3 w bytes. */
static void upsample2_rows(const uint8_t *img, int h, int w, uint8_t *dst, uint8_t *mid) {
    const Py_ssize_t row = (Py_ssize_t)(2 * w + 1) * 3, n = (Py_ssize_t)w * 3;
    for (int i = 0; i < h; i++) {
        const uint8_t *s = img + (Py_ssize_t)i * n;
        uint8_t *d = dst + (Py_ssize_t)(2 * i) * row;
        /* mid[3x + k]: half-way between pixels x and x + 1; the interior loop runs over contiguous
         * bytes without clamping, so the compiler vectorises it */
        for (Py_ssize_t k = 3; k + 6 < n; k++)
            mid[k] = half_cubic(s[k - 3], s[k], s[k + 3], s[k + 6]);
        /* the two gaps whose taps need clamping: after the first pixel and before the last */
        for (int x = 0; x + 1 < w; x = x < w - 2 ? w - 2 : w) {
            int xa = x > 0 ? x - 1 : 0, xd = x + 2 < w ? x + 2 : w - 1;
            for (int k = 0; k < 3; k++)
                mid[3 * x + k] = half_cubic(s[3 * xa + k], s[3 * x + k], s[3 * (x + 1) + k], s[3 * xd + k]);
        }
        for (int x = 0; x + 1 < w; x++) {
            memcpy(d + 6 * x, s + 3 * x, 3);
            memcpy(d + 6 * x + 3, mid + 3 * x, 3);
        }
        for (int k = 0; k < 9; k++) /* column 2w - 2 (the last pixel) and its two replicas */
            d[(2 * w - 2) * 3 + k] = s[n - 3 + k % 3];
    }
    for (int i = 0; i + 1 < h; i++) {
        const uint8_t *ra = dst + (Py_ssize_t)(2 * (i > 0 ? i - 1 : 0)) * row;
        const uint8_t *rb = dst + (Py_ssize_t)(2 * i) * row;
        const uint8_t *rc = dst + (Py_ssize_t)(2 * (i + 1)) * row;
        const uint8_t *rd = dst + (Py_ssize_t)(2 * (i + 2 < h ? i + 2 : h - 1)) * row;
        uint8_t *d = dst + (Py_ssize_t)(2 * i + 1) * row;
        for (Py_ssize_t k = 0; k < row; k++)
            d[k] = half_cubic(ra[k], rb[k], rc[k], rd[k]);
    }
    memcpy(dst + (Py_ssize_t)(2 * h - 1) * row, dst + (Py_ssize_t)(2 * h - 2) * row, (size_t)row);
}
/* ---- Axis-aligned windows: zoom (image-to-video moves) and camera (first/last pans and zooms) ----
 *
 * A window maps output pixel (x, y) to source position (x0 + x step, y0 + y step), clamped to the
 * frame. Bilinear sampling of such a window is separable: one pair of rows and one weight per output
 * row, one pair of columns and one weight per output column (computed once per call). Each output row
 * is a vertical blend of its two source rows (contiguous bytes, vectorised by the compiler) then a
 * horizontal one; where consecutive output columns read consecutive source columns with one weight (a
 * pan: step 1), the horizontal blend also runs over contiguous bytes with constant weights. Weights in
 * 1/256: within a grey level of OpenCV's warpAffine. */

typedef struct {
    double x0, y0, step;
} Window;

typedef struct {
    const uint8_t *src; /* (h, w, 3), rows src_stride bytes apart */
    Py_ssize_t src_stride;
    int h, w, out_w;
    Window win;
    int32_t *cols;          /* out_w: clamped source column * 256 + weight of the right-hand column */
    int run_begin, run_end; /* output columns [run_begin, run_end) read source column x + run_shift ... */
    int32_t run_shift, run_fx; /* ... with right-hand weight run_fx (empty unless worth a loop of its own) */
    uint16_t *blend;        /* 3 (w + 1): the current row's vertical blend, value * 256 */
    uint32_t *acc;          /* 3 out_w: the current output row, value * 65536 */
} Sampler;

static inline int32_t fixed256(double p, int n) {
    p = p > 0.0 ? p : 0.0;
    p = p < n - 1 ? p : n - 1;
    return (int32_t)(p * 256.0 + 0.5);
}

static int sampler_init(Sampler *s, const uint8_t *src, Py_ssize_t stride, int h, int w, int out_w, Window win) {
    s->src = src;
    s->src_stride = stride;
    s->h = h;
    s->w = w;
    s->out_w = out_w;
    s->win = win;
    s->cols = PyMem_RawMalloc(sizeof(int32_t) * (size_t)out_w);
    s->blend = PyMem_RawMalloc(sizeof(uint16_t) * 3 * ((size_t)w + 1));
    s->acc = PyMem_RawMalloc(sizeof(uint32_t) * 3 * (size_t)out_w);
    if (s->cols == NULL || s->blend == NULL || s->acc == NULL)
        return 0;
    int best_b = 0, best_e = 0, b = 0;
    for (int x = 0; x < out_w; x++) {
        s->cols[x] = fixed256(win.x0 + x * win.step, w);
        if (x > 0 && s->cols[x] - s->cols[x - 1] != 256)
            b = x;
        if (x + 1 - b > best_e - best_b) {
            best_b = b;
            best_e = x + 1;
        }
    }
    if (best_e - best_b < 16)
        best_b = best_e = 0;
    s->run_begin = best_b;
    s->run_end = best_e;
    s->run_shift = best_e > best_b ? (s->cols[best_b] >> 8) - best_b : 0;
    s->run_fx = best_e > best_b ? (s->cols[best_b] & 255) : 0;
    return 1;
}

static void sampler_free(Sampler *s) {
    PyMem_RawFree(s->cols);
    PyMem_RawFree(s->blend);
    PyMem_RawFree(s->acc);
}

static inline void columns_generic(const Sampler *s, int x_begin, int x_end) {
    for (int x = x_begin; x < x_end; x++) {
        int32_t xi = s->cols[x] >> 8, fx = s->cols[x] & 255;
        const uint16_t *b = s->blend + 3 * (Py_ssize_t)xi;
        for (int k = 0; k < 3; k++)
            s->acc[3 * x + k] = (uint32_t)b[k] * (uint32_t)(256 - fx) + (uint32_t)b[k + 3] * (uint32_t)fx;
    }
}

/* Output row y of the window into s->acc, value * 65536 per channel. */
static void sampler_row(const Sampler *s, int y) {
    const Py_ssize_t n = (Py_ssize_t)s->w * 3;
    const int32_t q = fixed256(s->win.y0 + y * s->win.step, s->h), yi = q >> 8, fy = q & 255;
    const uint8_t *top = s->src + (Py_ssize_t)yi * s->src_stride;
    const uint8_t *bot = yi + 1 < s->h ? top + s->src_stride : top;
    uint16_t *blend = s->blend;
    for (Py_ssize_t k = 0; k < n; k++)
        blend[k] = (uint16_t)(top[k] * (256 - fy) + bot[k] * fy);
    for (int k = 0; k < 3; k++) /* one pixel past the edge: read with weight 0 at the last column */
        blend[n + k] = blend[n - 3 + k];
    columns_generic(s, 0, s->run_begin);
    if (s->run_end > s->run_begin) {
        const uint16_t *b = blend + 3 * ((Py_ssize_t)s->run_begin + s->run_shift);
        uint32_t *a = s->acc + 3 * (Py_ssize_t)s->run_begin;
        const uint32_t wl = (uint32_t)(256 - s->run_fx), wr = (uint32_t)s->run_fx;
        const Py_ssize_t m = 3 * (Py_ssize_t)(s->run_end - s->run_begin);
        for (Py_ssize_t k = 0; k < m; k++)
            a[k] = b[k] * wl + b[k + 3] * wr;
    }
    columns_generic(s, s->run_end, s->out_w);
}

/* How far inside [0, n - 1] position p lies, as a weight: 1 beyond ``feather`` from both ends, falling
 * linearly to 1 / feather at the ends and to 0 one pixel outside (camera.py's _edge_ramp). */
static inline float ramp(double p, int n, float inv_feather) {
    double d = p < (n - 1) - p ? p : (n - 1) - p;
    float r = (float)d * inv_feather + inv_feather;
    return r > 0.0f ? (r < 1.0f ? r : 1.0f) : 0.0f;
}

/* The share of the last keyframe (in 1/65536) of each output byte of a row whose vertical ramps are ry0,
 * ry1: the blend weights are (1 - t)(ramp0 + 0.001) and t (ramp1 + 0.001), normalised. */
static void camera_shares(uint32_t *share, const float *rx0, const float *rx1, int w, float ry0, float ry1,
                          float t) {
    const float w0 = 1.0f - t, w1 = t;
    for (int x = 0; x < w; x++) {
        float a = w0 * (rx0[x] * ry0 + 1e-3f), b = w1 * (rx1[x] * ry1 + 1e-3f);
        uint32_t c = (uint32_t)lrintf(65536.0f * b / (a + b));
        share[3 * x] = share[3 * x + 1] = share[3 * x + 2] = c;
    }
}

/* The camera path's in-between (camera.py): both keyframes sampled through their windows and blended by
 * their shares. ``scratch`` holds 2 w floats and 6 w uint32. */
static void camera_rows(const Sampler *s0, const Sampler *s1, uint8_t *out, Py_ssize_t out_stride, int h,
                        float t, float feather0, float feather1, float *rx, uint32_t *shares) {
    const int w = s0->out_w;
    float *rx0 = rx, *rx1 = rx + w;
    uint32_t *inner = shares, *edge = shares + 3 * (size_t)w;
    const float i0 = 1.0f / feather0, i1 = 1.0f / feather1;
    for (int x = 0; x < w; x++) {
        rx0[x] = ramp(s0->win.x0 + x * s0->win.step, s0->w, i0);
        rx1[x] = ramp(s1->win.x0 + x * s1->win.step, s1->w, i1);
    }
    camera_shares(inner, rx0, rx1, w, 1.0f, 1.0f, t); /* rows both keyframes see in full height */
    const Py_ssize_t n = 3 * (Py_ssize_t)w;
    for (int y = 0; y < h; y++) {
        const float ry0 = ramp(s0->win.y0 + y * s0->win.step, s0->h, i0);
        const float ry1 = ramp(s1->win.y0 + y * s1->win.step, s1->h, i1);
        const uint32_t *sh = inner;
        if (ry0 != 1.0f || ry1 != 1.0f) {
            camera_shares(edge, rx0, rx1, w, ry0, ry1, t);
            sh = edge;
        }
        sampler_row(s0, y);
        sampler_row(s1, y);
        const uint32_t *a = s0->acc, *b = s1->acc;
        uint8_t *o = out + (Py_ssize_t)y * out_stride;
        /* Each sample rounded to a grey level, then blended with ties rounded down: the arithmetic of
         * cv2.blendLinear on two warped frames, which the camera path's quality was measured with. */
        for (Py_ssize_t k = 0; k < n; k++) {
            uint32_t a8 = (a[k] + 32768u) >> 16, b8 = (b[k] + 32768u) >> 16;
            o[k] = (uint8_t)((a8 * (65536u - sh[k]) + b8 * sh[k] + 32767u) >> 16);
        }
    }
}

/* ---- camera_flow: a camera move with local motion on top (camera.py), in one pass ----
 *
 * For every output pixel p at time t:
 *
 *     q  = M p                                  where p is in the first keyframe (M: the camera path's
 *                                               out -> first map at t, projective)
 *     u, v = f01(q), f10(q)                     the residual flows of the camera-compensated pair, read
 *                                               at the nearest pixel of their grid (the first's view)
 *     p0 = q + a0 u + b0 v                      sample position in the first keyframe
 *     p1 = H (q + a1 u + b1 v)                  sample position in the last (H: first -> last)
 *     e0, e1 = edge ramps of p0, p1             1 well inside a keyframe's view, 0 one pixel outside
 *     c1 = round(256 t (e1 + 0.001) / ((1 - t)(e0 + 0.001) + t (e1 + 0.001))), c0 = 256 - c1
 *     out = (c0 bilinear(first, p0) + c1 bilinear(last, p1)) / 256, rounded once
 *
 * (a, b) are the linear-motion weights of flow.py. Without flows (u = v = 0) this is any camera move,
 * rotations and perspective included. Positions are computed in float with the same operation order in
 * the SSE4.1 and the portable path, then sampled with the integer arithmetic of ``inbetween``, so the
 * two paths give identical bytes. The flow is read at the nearest grid pixel, not interpolated (one
 * 16-byte load per pixel, no weights): it is the upsampling of a smooth field. */

typedef struct {
    const uint8_t *src0, *src1; /* padded keyframes (one replicated row, two columns), same layout */
    Py_ssize_t stride;
    float xmax, ymax;           /* last valid column and row */
    const float *flow;          /* (fh, fw, 4): f01 x, y, f10 x, y; or NULL */
    int fw, fh;
    float m[9], hm[9];          /* out -> first at t, first -> last */
    float a0, b0, a1, b1;
    float inv0, inv1;           /* 1 / feather of each keyframe, in its pixels */
    float w0, w1;               /* 1 - t, t */
    uint8_t *out;
    Py_ssize_t out_stride;
    int width;
    int affine;                 /* both maps have the bottom row (0, 0, 1): every divisor is exactly 1 */
} CamFlow;

static inline float maxf(float a, float b) { return a > b ? a : b; } /* _mm_max_ps, NaN -> b */
static inline float minf(float a, float b) { return a < b ? a : b; } /* _mm_min_ps, NaN -> b */

/* The edge ramp of camera.py's _edge_ramp for one coordinate (``_mm`` order of operations). */
static inline float ramp_f(float p, float last, float inv) {
    float r = minf(p, last - p) * inv + inv;
    return minf(maxf(r, 0.0f), 1.0f);
}

/* Per-row constants of the two projective maps: M's terms in y. */
typedef struct {
    float nx, ny, d;
} RowTerms;

static inline RowTerms row_terms(const CamFlow *j, int y) {
    const float fy = (float)y;
    RowTerms r = {j->m[1] * fy + j->m[2], j->m[4] * fy + j->m[5], j->m[7] * fy + j->m[8]};
    return r;
}

static void camflow_scalar(const void *job, int y, int x_begin, int x_end) {
    const CamFlow *j = job;
    const RowTerms rt = row_terms(j, y);
    const float *m = j->m, *hm = j->hm;
    const float xmax64 = 64.0f * j->xmax, ymax64 = 64.0f * j->ymax;
    uint8_t *out = j->out + (Py_ssize_t)y * j->out_stride;
    for (int x = x_begin; x < x_end; x++) {
        const float fx = (float)x;
        const float den = m[6] * fx + rt.d;
        float qx = m[0] * fx + rt.nx, qy = m[3] * fx + rt.ny;
        if (!j->affine)
            qx /= den, qy /= den;
        float ux = 0.0f, uy = 0.0f, vx = 0.0f, vy = 0.0f;
        if (j->flow) {
            const int32_t ix = (int32_t)lrintf(clampf(qx, (float)(j->fw - 1)));
            const int32_t iy = (int32_t)lrintf(clampf(qy, (float)(j->fh - 1)));
            const float *f = j->flow + 4 * ((size_t)iy * (size_t)j->fw + (size_t)ix);
            ux = f[0], uy = f[1], vx = f[2], vy = f[3];
        }
        const float p0x = (qx + j->a0 * ux) + j->b0 * vx, p0y = (qy + j->a0 * uy) + j->b0 * vy;
        const float rx = (qx + j->a1 * ux) + j->b1 * vx, ry = (qy + j->a1 * uy) + j->b1 * vy;
        const float d1 = (hm[6] * rx + hm[7] * ry) + hm[8];
        float p1x = (hm[0] * rx + hm[1] * ry) + hm[2], p1y = (hm[3] * rx + hm[4] * ry) + hm[5];
        if (!j->affine)
            p1x /= d1, p1y /= d1;
        const float e0 = ramp_f(p0x, j->xmax, j->inv0) * ramp_f(p0y, j->ymax, j->inv0);
        const float e1 = ramp_f(p1x, j->xmax, j->inv1) * ramp_f(p1y, j->ymax, j->inv1);
        const float a = j->w0 * (e0 + 1e-3f), b = j->w1 * (e1 + 1e-3f);
        const int32_t c1 = (int32_t)lrintf((256.0f * b) / (a + b));
        int32_t acc[3] = {0, 0, 0};
        sample_scalar(j->stride, j->src0, (int32_t)lrintf(clampf(64.0f * p0x, xmax64)),
                      (int32_t)lrintf(clampf(64.0f * p0y, ymax64)), 256 - c1, acc);
        sample_scalar(j->stride, j->src1, (int32_t)lrintf(clampf(64.0f * p1x, xmax64)),
                      (int32_t)lrintf(clampf(64.0f * p1y, ymax64)), c1, acc);
        for (int k = 0; k < 3; k++)
            out[3 * x + k] = (uint8_t)((acc[k] + (1 << 19)) >> 20);
    }
}

#ifdef FC_HAVE_SSE41
FC_SSE41 static inline __m128 ramp_sse41(__m128 p, __m128 last, __m128 inv) {
    __m128 r = _mm_add_ps(_mm_mul_ps(_mm_min_ps(p, _mm_sub_ps(last, p)), inv), inv);
    return _mm_min_ps(_mm_max_ps(r, _mm_setzero_ps()), _mm_set1_ps(1.0f));
}

FC_SSE41 static void camflow_sse41(const void *job, int y, int x_begin, int x_end) {
    const CamFlow *j = job;
    const RowTerms rt = row_terms(j, y);
    uint8_t *out = j->out + (Py_ssize_t)y * j->out_stride;
    const uint8_t *src0 = j->src0, *src1 = j->src1;
    const Py_ssize_t stride = j->stride;
#define FC_SET(v) _mm_set1_ps(v)
    const __m128 m0 = FC_SET(j->m[0]), m3 = FC_SET(j->m[3]), m6 = FC_SET(j->m[6]);
    const __m128 rnx = FC_SET(rt.nx), rny = FC_SET(rt.ny), rd = FC_SET(rt.d);
    const __m128 h0 = FC_SET(j->hm[0]), h1 = FC_SET(j->hm[1]), h2 = FC_SET(j->hm[2]), h3 = FC_SET(j->hm[3]),
                 h4 = FC_SET(j->hm[4]), h5 = FC_SET(j->hm[5]), h6 = FC_SET(j->hm[6]), h7 = FC_SET(j->hm[7]),
                 h8 = FC_SET(j->hm[8]);
    const __m128 a0 = FC_SET(j->a0), b0 = FC_SET(j->b0), a1 = FC_SET(j->a1), b1 = FC_SET(j->b1);
    const __m128 xmax = FC_SET(j->xmax), ymax = FC_SET(j->ymax);
    const __m128 xmax64 = FC_SET(64.0f * j->xmax), ymax64 = FC_SET(64.0f * j->ymax), s64 = FC_SET(64.0f);
    const __m128 inv0 = FC_SET(j->inv0), inv1 = FC_SET(j->inv1), w0 = FC_SET(j->w0), w1 = FC_SET(j->w1);
    const __m128 floor3 = FC_SET(1e-3f), s256 = FC_SET(256.0f);
    const __m128 fwm1 = FC_SET((float)(j->fw - 1)), fhm1 = FC_SET((float)(j->fh - 1)), zero = _mm_setzero_ps();
#undef FC_SET
    const __m128i fw = _mm_set1_epi32(j->fw), i256 = _mm_set1_epi32(256);
    const __m128i stride4 = _mm_set1_epi32((int32_t)stride);
    const __m128 steps = _mm_set_ps(3.0f, 2.0f, 1.0f, 0.0f);
    const int affine = j->affine;

    for (int x = x_begin; x + 4 <= x_end; x += 4) {
        const __m128 fx = _mm_add_ps(_mm_set1_ps((float)x), steps);
        __m128 qx = _mm_add_ps(_mm_mul_ps(m0, fx), rnx), qy = _mm_add_ps(_mm_mul_ps(m3, fx), rny);
        if (!affine) {
            const __m128 den = _mm_add_ps(_mm_mul_ps(m6, fx), rd);
            qx = _mm_div_ps(qx, den), qy = _mm_div_ps(qy, den);
        }
        __m128 ux = zero, uy = zero, vx = zero, vy = zero;
        if (j->flow) {
            __m128i ix = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(qx, zero), fwm1));
            __m128i iy = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(qy, zero), fhm1));
            int32_t idx[4];
            _mm_storeu_si128((__m128i *)idx, _mm_add_epi32(_mm_mullo_epi32(iy, fw), ix));
            ux = _mm_loadu_ps(j->flow + 4 * (size_t)idx[0]);
            uy = _mm_loadu_ps(j->flow + 4 * (size_t)idx[1]);
            vx = _mm_loadu_ps(j->flow + 4 * (size_t)idx[2]);
            vy = _mm_loadu_ps(j->flow + 4 * (size_t)idx[3]);
            _MM_TRANSPOSE4_PS(ux, uy, vx, vy); /* rows were pixels; now ux = f01 x of the four, ... */
        }
        const __m128 p0x = _mm_add_ps(_mm_add_ps(qx, _mm_mul_ps(a0, ux)), _mm_mul_ps(b0, vx));
        const __m128 p0y = _mm_add_ps(_mm_add_ps(qy, _mm_mul_ps(a0, uy)), _mm_mul_ps(b0, vy));
        const __m128 rx = _mm_add_ps(_mm_add_ps(qx, _mm_mul_ps(a1, ux)), _mm_mul_ps(b1, vx));
        const __m128 ry = _mm_add_ps(_mm_add_ps(qy, _mm_mul_ps(a1, uy)), _mm_mul_ps(b1, vy));
        __m128 p1x = _mm_add_ps(_mm_add_ps(_mm_mul_ps(h0, rx), _mm_mul_ps(h1, ry)), h2);
        __m128 p1y = _mm_add_ps(_mm_add_ps(_mm_mul_ps(h3, rx), _mm_mul_ps(h4, ry)), h5);
        if (!affine) {
            const __m128 d1 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(h6, rx), _mm_mul_ps(h7, ry)), h8);
            p1x = _mm_div_ps(p1x, d1), p1y = _mm_div_ps(p1y, d1);
        }
        const __m128 e0 = _mm_mul_ps(ramp_sse41(p0x, xmax, inv0), ramp_sse41(p0y, ymax, inv0));
        const __m128 e1 = _mm_mul_ps(ramp_sse41(p1x, xmax, inv1), ramp_sse41(p1y, ymax, inv1));
        const __m128 a = _mm_mul_ps(w0, _mm_add_ps(e0, floor3)), b = _mm_mul_ps(w1, _mm_add_ps(e1, floor3));
        const __m128i c1 = _mm_cvtps_epi32(_mm_div_ps(_mm_mul_ps(s256, b), _mm_add_ps(a, b)));
        const __m128i c0 = _mm_sub_epi32(i256, c1);
        Taps t0 = taps_sse41(_mm_mul_ps(s64, p0x), _mm_mul_ps(s64, p0y), xmax64, ymax64, stride4,
                             _mm_or_si128(c0, _mm_slli_epi32(c0, 16)));
        Taps t1 = taps_sse41(_mm_mul_ps(s64, p1x), _mm_mul_ps(s64, p1y), xmax64, ymax64, stride4,
                             _mm_or_si128(c1, _mm_slli_epi32(c1, 16)));
        __m128i res[4];
        samples4_sse41(res, src0, src1, stride, t0, t1);
        store4_sse41(out + 3 * x, res);
    }
}

/* ---- the AVX2 bodies: camera_flow's, then inbetween's ---- */

FC_AVX2 static inline __m256 ramp_avx2(__m256 p, __m256 last, __m256 inv) {
    __m256 r = _mm256_add_ps(_mm256_mul_ps(_mm256_min_ps(p, _mm256_sub_ps(last, p)), inv), inv);
    return _mm256_min_ps(_mm256_max_ps(r, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
}

/* Taps for eight pixels. */
typedef struct {
    __m256i off, hw, vw;
} Taps8;

/* taps_sse41 on eight pixels. */
FC_AVX2 static inline Taps8 taps_avx2(__m256 px, __m256 py, __m256 xmax64, __m256 ymax64, __m256i stride8,
                                      __m256i cpair) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i m63 = _mm256_set1_epi32(63), i64 = _mm256_set1_epi32(64);
    Taps8 r;
    __m256i xf = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(px, zero), xmax64));
    __m256i yf = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(py, zero), ymax64));
    __m256i xi = _mm256_srai_epi32(xf, 6), fx = _mm256_and_si256(xf, m63);
    __m256i yi = _mm256_srai_epi32(yf, 6), fy = _mm256_and_si256(yf, m63);
    r.off = _mm256_add_epi32(_mm256_mullo_epi32(yi, stride8), _mm256_add_epi32(_mm256_add_epi32(xi, xi), xi));
    r.hw = _mm256_sub_epi32(_mm256_add_epi32(i64, _mm256_slli_epi32(fx, 8)), fx);
    r.vw = _mm256_mullo_epi16(_mm256_add_epi32(_mm256_sub_epi32(i64, fy), _mm256_slli_epi32(fy, 16)), cpair);
    return r;
}

/* sample_sse41 for two pixels at once, one in each 128-bit lane (``at_lo`` and ``at_hi``). */
FC_AVX2 static inline __m256i sample2_avx2(const uint8_t *at_lo, const uint8_t *at_hi, Py_ssize_t stride,
                                           __m256i hw, __m256i vw, __m256i pair_bytes) {
    __m128i lo = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)at_lo),
                                    _mm_loadl_epi64((const __m128i *)(at_lo + stride)));
    __m128i hi = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)at_hi),
                                    _mm_loadl_epi64((const __m128i *)(at_hi + stride)));
    __m256i pairs = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), pair_bytes);
    __m256i h = _mm256_maddubs_epi16(pairs, hw);
    __m256i tb = _mm256_unpacklo_epi16(h, _mm256_unpackhi_epi64(h, h));
    return _mm256_madd_epi16(tb, vw);
}

/* Eight pixels' two bilinear samples summed per pixel (value * 2^20 * share per channel, RGB and a 0
 * lane), as samples4_sse41 gives them: pixel k and k + 4 share res[k], one per 128-bit lane, so every
 * shuffle stays within its lane. */
FC_AVX2 static inline void sums8_avx2(__m256i res[4], const uint8_t *src0, const uint8_t *src1, Py_ssize_t stride,
                                      Taps8 t0, Taps8 t1) {
    const __m256i pair_bytes = _mm256_setr_epi8(0, 3, 1, 4, 2, 5, -1, -1, 8, 11, 9, 12, 10, 13, -1, -1, 0, 3, 1,
                                                4, 2, 5, -1, -1, 8, 11, 9, 12, 10, 13, -1, -1);
    const __m256i lane16[4] = {
        _mm256_set1_epi32(0x01000100), _mm256_set1_epi32(0x05040504), _mm256_set1_epi32(0x09080908),
        _mm256_set1_epi32(0x0D0C0D0C),
    };
    int32_t off0[8], off1[8];
    _mm256_storeu_si256((__m256i *)off0, t0.off);
    _mm256_storeu_si256((__m256i *)off1, t1.off);
#define FC_PAIR(K)                                                                                            \
    res[K] = _mm256_add_epi32(sample2_avx2(src0 + off0[K], src0 + off0[(K) + 4], stride,                      \
                                           _mm256_shuffle_epi8(t0.hw, lane16[K]),                             \
                                           _mm256_shuffle_epi32(t0.vw, (K) * 0x55), pair_bytes),              \
                              sample2_avx2(src1 + off1[K], src1 + off1[(K) + 4], stride,                      \
                                           _mm256_shuffle_epi8(t1.hw, lane16[K]),                             \
                                           _mm256_shuffle_epi32(t1.vw, (K) * 0x55), pair_bytes))
    FC_PAIR(0);
    FC_PAIR(1);
    FC_PAIR(2);
    FC_PAIR(3);
#undef FC_PAIR
}

/* store4_sse41 for the eight pixels of sums8_avx2's layout: 24 RGB bytes. */
FC_AVX2 static inline void store8_avx2(uint8_t *out, __m256i res[4]) {
    const __m256i round20 = _mm256_set1_epi32(1 << 19);
    const __m256i rgb_bytes = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4,
                                               5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    for (int k = 0; k < 4; k++)
        res[k] = _mm256_srai_epi32(_mm256_add_epi32(res[k], round20), 20);
    /* each lane: its four pixels as RGB0 bytes, then their 12 RGB bytes */
    __m256i packed = _mm256_packus_epi16(_mm256_packs_epi32(res[0], res[1]), _mm256_packs_epi32(res[2], res[3]));
    packed = _mm256_shuffle_epi8(packed, rgb_bytes);
    const __m128i lo = _mm256_castsi256_si128(packed), hi = _mm256_extracti128_si256(packed, 1);
    int32_t tail;
    _mm_storel_epi64((__m128i *)out, lo);
    tail = _mm_cvtsi128_si32(_mm_srli_si128(lo, 8));
    memcpy(out + 8, &tail, 4);
    _mm_storel_epi64((__m128i *)(out + 12), hi);
    tail = _mm_cvtsi128_si32(_mm_srli_si128(hi, 8));
    memcpy(out + 20, &tail, 4);
}

/* Eight pixels' flows (f01 x, y, f10 x, y at each index) as four vectors of eight. */
FC_AVX2 static inline void flows8_avx2(const float *flow, const int32_t idx[8], __m256 *ux, __m256 *uy,
                                       __m256 *vx, __m256 *vy) {
#define FC_ROW(K) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(flow + 4 * (size_t)idx[K])), \
                                        _mm_loadu_ps(flow + 4 * (size_t)idx[(K) + 4]), 1)
    const __m256 r0 = FC_ROW(0), r1 = FC_ROW(1), r2 = FC_ROW(2), r3 = FC_ROW(3);
#undef FC_ROW
    /* _MM_TRANSPOSE4_PS within each 128-bit lane: the low lane holds pixels 0-3, the high one 4-7 */
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpacklo_ps(r2, r3);
    const __m256 t2 = _mm256_unpackhi_ps(r0, r1), t3 = _mm256_unpackhi_ps(r2, r3);
    *ux = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));
    *uy = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));
    *vx = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(1, 0, 1, 0));
    *vy = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/* camflow_sse41 eight pixels at a time, the same operations in the same order. */
FC_AVX2 static void camflow_avx2(const void *job, int y, int x_end) {
    const CamFlow *j = job;
    const RowTerms rt = row_terms(j, y);
    uint8_t *out = j->out + (Py_ssize_t)y * j->out_stride;
    const uint8_t *src0 = j->src0, *src1 = j->src1;
    const Py_ssize_t stride = j->stride;
#define FC_SET(v) _mm256_set1_ps(v)
    const __m256 m0 = FC_SET(j->m[0]), m3 = FC_SET(j->m[3]), m6 = FC_SET(j->m[6]);
    const __m256 rnx = FC_SET(rt.nx), rny = FC_SET(rt.ny), rd = FC_SET(rt.d);
    const __m256 h0 = FC_SET(j->hm[0]), h1 = FC_SET(j->hm[1]), h2 = FC_SET(j->hm[2]), h3 = FC_SET(j->hm[3]),
                 h4 = FC_SET(j->hm[4]), h5 = FC_SET(j->hm[5]), h6 = FC_SET(j->hm[6]), h7 = FC_SET(j->hm[7]),
                 h8 = FC_SET(j->hm[8]);
    const __m256 a0 = FC_SET(j->a0), b0 = FC_SET(j->b0), a1 = FC_SET(j->a1), b1 = FC_SET(j->b1);
    const __m256 xmax = FC_SET(j->xmax), ymax = FC_SET(j->ymax);
    const __m256 xmax64 = FC_SET(64.0f * j->xmax), ymax64 = FC_SET(64.0f * j->ymax), s64 = FC_SET(64.0f);
    const __m256 inv0 = FC_SET(j->inv0), inv1 = FC_SET(j->inv1), w0 = FC_SET(j->w0), w1 = FC_SET(j->w1);
    const __m256 floor3 = FC_SET(1e-3f), s256 = FC_SET(256.0f);
    const __m256 fwm1 = FC_SET((float)(j->fw - 1)), fhm1 = FC_SET((float)(j->fh - 1)), zero = _mm256_setzero_ps();
#undef FC_SET
    const __m256i fw = _mm256_set1_epi32(j->fw), i256 = _mm256_set1_epi32(256);
    const __m256i stride8 = _mm256_set1_epi32((int32_t)stride);
    const __m256 steps = _mm256_set_ps(7.0f, 6.0f, 5.0f, 4.0f, 3.0f, 2.0f, 1.0f, 0.0f);
    const int affine = j->affine;

    for (int x = 0; x + 8 <= x_end; x += 8) {
        const __m256 fx = _mm256_add_ps(_mm256_set1_ps((float)x), steps);
        __m256 qx = _mm256_add_ps(_mm256_mul_ps(m0, fx), rnx), qy = _mm256_add_ps(_mm256_mul_ps(m3, fx), rny);
        if (!affine) {
            const __m256 den = _mm256_add_ps(_mm256_mul_ps(m6, fx), rd);
            qx = _mm256_div_ps(qx, den), qy = _mm256_div_ps(qy, den);
        }
        __m256 ux = zero, uy = zero, vx = zero, vy = zero;
        if (j->flow) {
            __m256i ix = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(qx, zero), fwm1));
            __m256i iy = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(qy, zero), fhm1));
            int32_t idx[8];
            _mm256_storeu_si256((__m256i *)idx, _mm256_add_epi32(_mm256_mullo_epi32(iy, fw), ix));
            flows8_avx2(j->flow, idx, &ux, &uy, &vx, &vy);
        }
        const __m256 p0x = _mm256_add_ps(_mm256_add_ps(qx, _mm256_mul_ps(a0, ux)), _mm256_mul_ps(b0, vx));
        const __m256 p0y = _mm256_add_ps(_mm256_add_ps(qy, _mm256_mul_ps(a0, uy)), _mm256_mul_ps(b0, vy));
        const __m256 rx = _mm256_add_ps(_mm256_add_ps(qx, _mm256_mul_ps(a1, ux)), _mm256_mul_ps(b1, vx));
        const __m256 ry = _mm256_add_ps(_mm256_add_ps(qy, _mm256_mul_ps(a1, uy)), _mm256_mul_ps(b1, vy));
        __m256 p1x = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(h0, rx), _mm256_mul_ps(h1, ry)), h2);
        __m256 p1y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(h3, rx), _mm256_mul_ps(h4, ry)), h5);
        if (!affine) {
            const __m256 d1 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(h6, rx), _mm256_mul_ps(h7, ry)), h8);
            p1x = _mm256_div_ps(p1x, d1), p1y = _mm256_div_ps(p1y, d1);
        }
        const __m256 e0 = _mm256_mul_ps(ramp_avx2(p0x, xmax, inv0), ramp_avx2(p0y, ymax, inv0));
        const __m256 e1 = _mm256_mul_ps(ramp_avx2(p1x, xmax, inv1), ramp_avx2(p1y, ymax, inv1));
        const __m256 a = _mm256_mul_ps(w0, _mm256_add_ps(e0, floor3));
        const __m256 b = _mm256_mul_ps(w1, _mm256_add_ps(e1, floor3));
        const __m256i c1 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_mul_ps(s256, b), _mm256_add_ps(a, b)));
        const __m256i c0 = _mm256_sub_epi32(i256, c1);
        const Taps8 t0 = taps_avx2(_mm256_mul_ps(s64, p0x), _mm256_mul_ps(s64, p0y), xmax64, ymax64, stride8,
                                   _mm256_or_si256(c0, _mm256_slli_epi32(c0, 16)));
        const Taps8 t1 = taps_avx2(_mm256_mul_ps(s64, p1x), _mm256_mul_ps(s64, p1y), xmax64, ymax64, stride8,
                                   _mm256_or_si256(c1, _mm256_slli_epi32(c1, 16)));
        __m256i res[4];
        sums8_avx2(res, src0, src1, stride, t0, t1);
        store8_avx2(out + 3 * x, res);
    }
}

/* Eight pixels' (x, y) flow pairs as their x and y components, pixel i in element i. */
FC_AVX2 static inline void flow_xy8_avx2(const float *f, __m256 *fx, __m256 *fy) {
    /* pixels 0, 1 | 4, 5 and 2, 3 | 6, 7: the in-lane shuffle then gives 0-3 | 4-7 */
    const __m256 a = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f)), _mm_loadu_ps(f + 8), 1);
    const __m256 b = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f + 4)), _mm_loadu_ps(f + 12), 1);
    *fx = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *fy = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}

/* Four pixels' keyframe bytes as RGB0 words, for the fade: pixels 0-3 of ``p`` in the low lane, 4-7 in
 * the high one (16-byte loads, as pixels_sse41 reads them). */
FC_AVX2 static inline __m256i fade_bytes8_avx2(const uint8_t *p, __m256i spread) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)p), hi = _mm_loadu_si128((const __m128i *)(p + 12));
    return _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), spread);
}

/* pixels_sse41 eight pixels at a time, the same operations in the same order. */
FC_AVX2 static void pixels_avx2(const void *job, int y, int x_end) {
    const Job *j = job;
    const Row r = row_of(j, y);
    const uint8_t *lam = r.lam;
    const uint8_t *src0 = j->src0, *src1 = j->src1;
    const Py_ssize_t stride = j->stride;

    const __m256 a0 = _mm256_set1_ps(j->a0), b0 = _mm256_set1_ps(j->b0);
    const __m256 a1 = _mm256_set1_ps(j->a1), b1 = _mm256_set1_ps(j->b1);
    const __m256 xmax64 = _mm256_set1_ps(j->xmax64), ymax64 = _mm256_set1_ps(j->ymax64);
    const __m256 gy = _mm256_set1_ps((float)(64 * j->scale * y));
    const float s64 = (float)(64 * j->scale);
    const __m256 steps =
        _mm256_set_ps(7.0f * s64, 6.0f * s64, 5.0f * s64, 4.0f * s64, 3.0f * s64, 2.0f * s64, s64, 0.0f);
    const __m256i stride8 = _mm256_set1_epi32((int32_t)stride);
    const __m256i i128 = _mm256_set1_epi32(128), i256 = _mm256_set1_epi32(256);
    const __m256i rest_t = _mm256_sub_epi32(i256, _mm256_set1_epi32(j->t256));
    const __m256i zero = _mm256_setzero_si256();
    const __m256i spread = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4,
                                            5, -1, 6, 7, 8, -1, 9, 10, 11, -1);

    for (int x = 0; x + 8 <= x_end; x += 8) {
        __m256 ux, uy, vx, vy;
        flow_xy8_avx2(r.u + 2 * x, &ux, &uy);
        flow_xy8_avx2(r.v + 2 * x, &vx, &vy);
        const __m256 gx = _mm256_add_ps(_mm256_set1_ps((float)(64 * j->scale * x)), steps);

        __m256i lw = i256, fwt = zero;
        if (lam) {
            const __m256i lam8 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(lam + x)));
            lw = _mm256_add_epi32(lam8, _mm256_srli_epi32(lam8, 7));
            fwt = _mm256_sub_epi32(i256, lw);
        }
        const __m256i c0 = _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(lw, rest_t), i128), 8);
        const __m256i c1 = _mm256_sub_epi32(lw, c0);
        const Taps8 p0 = taps_avx2(_mm256_add_ps(_mm256_add_ps(gx, _mm256_mul_ps(a0, ux)), _mm256_mul_ps(b0, vx)),
                                   _mm256_add_ps(_mm256_add_ps(gy, _mm256_mul_ps(a0, uy)), _mm256_mul_ps(b0, vy)),
                                   xmax64, ymax64, stride8, _mm256_or_si256(c0, _mm256_slli_epi32(c0, 16)));
        const Taps8 p1 = taps_avx2(_mm256_add_ps(_mm256_add_ps(gx, _mm256_mul_ps(a1, ux)), _mm256_mul_ps(b1, vx)),
                                   _mm256_add_ps(_mm256_add_ps(gy, _mm256_mul_ps(a1, uy)), _mm256_mul_ps(b1, vy)),
                                   xmax64, ymax64, stride8, _mm256_or_si256(c1, _mm256_slli_epi32(c1, 16)));
        __m256i res[4];
        sums8_avx2(res, src0, src1, stride, p0, p1);
        if (lam) {
            const __m256i d0 = _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(fwt, rest_t), i128), 8);
            const __m256i d1 = _mm256_sub_epi32(fwt, d0);
            const __m256i fw = _mm256_or_si256(_mm256_slli_epi32(d0, 6), _mm256_slli_epi32(d1, 22));
            const __m256i f = fade_bytes8_avx2(r.first + 3 * x, spread);
            const __m256i l = fade_bytes8_avx2(r.last + 3 * x, spread);
            const __m256i lo = _mm256_unpacklo_epi8(f, l), hi = _mm256_unpackhi_epi8(f, l);
            /* pixel k and k + 4 in fl[k], the layout of res[k] */
            const __m256i fl[4] = {_mm256_unpacklo_epi8(lo, zero), _mm256_unpackhi_epi8(lo, zero),
                                   _mm256_unpacklo_epi8(hi, zero), _mm256_unpackhi_epi8(hi, zero)};
#define FC_FADE(K)                                                                                   \
    res[K] = _mm256_add_epi32(                                                                       \
        res[K], _mm256_madd_epi16(_mm256_slli_epi16(fl[K], 6), _mm256_shuffle_epi32(fw, (K) * 0x55)))
            FC_FADE(0);
            FC_FADE(1);
            FC_FADE(2);
            FC_FADE(3);
#undef FC_FADE
        }
        store8_avx2(r.out + 3 * x, res);
    }
}
#endif

/* ---- argument handling ---- */

/* An array argument with its shape and row stride read from its buffer. */
typedef struct {
    Py_buffer b;
    int held;
    int h, w;
    Py_ssize_t stride; /* bytes from one row to the next */
} Arr;

static void release(Arr *a) {
    if (a->held)
        PyBuffer_Release(&a->b);
    a->held = 0;
}

/* ``obj`` as an (h, w, channels) array, or (h, w) with channels 0, of ``fmt`` items ('B': uint8, 'f':
 * float32). Pixels are contiguous within a row; rows may be padded unless ``dense``. */
static int get_arr(PyObject *obj, const char *name, char fmt, int channels, int writable, int dense, Arr *a) {
    if (PyObject_GetBuffer(obj, &a->b, PyBUF_RECORDS_RO | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return 0;
    a->held = 1;
    const Py_ssize_t item = fmt == 'B' ? 1 : 4, pixel = item * (channels ? channels : 1);
    const char *f = a->b.format ? a->b.format : "B";
    if (*f == '@' || *f == '=')
        f++;
    if (a->b.ndim != (channels ? 3 : 2) || f[0] != fmt || f[1] != 0 || a->b.itemsize != item ||
        (channels && a->b.shape[2] != channels)) {
        PyErr_Format(PyExc_ValueError, "%s: expected an (h, w%s) %s array", name,
                     channels == 4 ? ", 4" : channels == 3 ? ", 3" : channels == 2 ? ", 2" : "", fmt == 'B' ? "uint8" : "float32");
        return 0;
    }
    const Py_ssize_t *shape = a->b.shape, *strides = a->b.strides;
    if (shape[0] < 1 || shape[1] < 1 || shape[0] > (1 << 15) || shape[1] > (1 << 15)) {
        PyErr_Format(PyExc_ValueError, "%s: empty, or larger than 32768 pixels a side", name);
        return 0;
    }
    const Py_ssize_t row = shape[1] * pixel;
    a->stride = shape[0] > 1 ? strides[0] : row; /* numpy may report any stride for a length-1 axis */
    if ((channels && strides[2] != item) || (shape[1] > 1 && strides[1] != pixel) || a->stride < row ||
        (dense && a->stride != row)) {
        PyErr_Format(PyExc_ValueError, "%s: pixels must be contiguous%s", name,
                     dense ? " (C-contiguous array)" : " within each row");
        return 0;
    }
    a->h = (int)shape[0];
    a->w = (int)shape[1];
    return 1;
}

static int same_layout(const Arr *a, const Arr *b, const char *what) {
    if (a->h != b->h || a->w != b->w || a->stride != b->stride) {
        PyErr_Format(PyExc_ValueError, "%s: both must have the same shape and row stride", what);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(inbetween_doc,
             "inbetween(out, src0, src1, fade0, fade1, f01, f10, lam, t, scale, portable=False, avx2=True,\n"
             "          out2=None, t2=0.0)\n\n"
             "The in-between at t into out (h, w, 3 uint8); see framecast.engines.flow. src0/src1 are the\n"
             "sampled keyframes (scale 1) or their 2x upsampling (scale 2), with one replicated row below\n"
             "and two columns right; fade0/fade1 the keyframes, padded alike; f01/f10 (h, w, 2 float32)\n"
             "the flows in source pixels; lam (h, w uint8) the warp's share, or None for all warp.\n"
             "With out2, the in-between at t2 as well, row by row beside the first (the inputs are read\n"
             "once for both): the bytes of two calls, in less time.\n"
             "Shapes and strides come from the buffers and are checked against what the kernel reads\n"
             "or writes. The GIL is released while it runs. portable=True forces the scalar path,\n"
             "avx2=False the SSE4.1 one (all three give identical bytes).");

/* The job of one in-between at t into out; the rest of j (the inputs) is the caller's. */
static Job at_time(Job j, double t, uint8_t *out) {
    /* The flows from t back to each keyframe are (a f01 + b f10): the linear-motion approximation. */
    const double a0 = -(1.0 - t) * t, b0 = t * t, a1 = (1.0 - t) * (1.0 - t), b1 = -t * (1.0 - t);
    j.out = out;
    j.a0 = 64.0f * (float)a0, j.b0 = 64.0f * (float)b0, j.a1 = 64.0f * (float)a1, j.b1 = 64.0f * (float)b1;
    j.t256 = (int32_t)nearbyint(256.0 * t); /* round half to even, as Python's round() */
    return j;
}

static PyObject *inbetween(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"out", "src0",  "src1",     "fade0", "fade1", "f01", "f10", "lam",
                             "t",   "scale", "portable", "avx2",  "out2",  "t2",  NULL};
    PyObject *o_out, *o_src0, *o_src1, *o_fade0, *o_fade1, *o_f01, *o_f10, *o_lam, *o_out2 = Py_None;
    double t, t2 = 0.0;
    int scale, portable = 0, allow_avx2 = 1;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOOOdi|$ppOd", kwlist, &o_out, &o_src0, &o_src1, &o_fade0,
                                     &o_fade1, &o_f01, &o_f10, &o_lam, &t, &scale, &portable, &allow_avx2, &o_out2,
                                     &t2))
        return NULL;
    Arr out = {0}, src0 = {0}, src1 = {0}, fade0 = {0}, fade1 = {0}, f01 = {0}, f10 = {0}, lam = {0}, out2 = {0};
    PyObject *result = NULL;
    if ((o_out2 != Py_None && !get_arr(o_out2, "out2", 'B', 3, 1, 1, &out2)) ||
        !get_arr(o_out, "out", 'B', 3, 1, 1, &out) || !get_arr(o_src0, "src0", 'B', 3, 0, 0, &src0) ||
        !get_arr(o_src1, "src1", 'B', 3, 0, 0, &src1) || !get_arr(o_fade0, "fade0", 'B', 3, 0, 0, &fade0) ||
        !get_arr(o_fade1, "fade1", 'B', 3, 0, 0, &fade1) || !get_arr(o_f01, "f01", 'f', 2, 0, 1, &f01) ||
        !get_arr(o_f10, "f10", 'f', 2, 0, 1, &f10) ||
        (o_lam != Py_None && !get_arr(o_lam, "lam", 'B', 0, 0, 1, &lam)))
        goto done;
    if (!same_layout(&src0, &src1, "src0, src1") || !same_layout(&fade0, &fade1, "fade0, fade1"))
        goto done;
    const int h = out.h, w = out.w;
    if (f01.h != h || f01.w != w || f10.h != h || f10.w != w || (lam.held && (lam.h != h || lam.w != w))) {
        PyErr_SetString(PyExc_ValueError, "inbetween: f01, f10 and lam must match out's (h, w)");
        goto done;
    }
    if (out2.held && (out2.h != h || out2.w != w)) {
        PyErr_SetString(PyExc_ValueError, "inbetween: out2 must have out's (h, w)");
        goto done;
    }
    if ((scale != 1 && scale != 2) || !(t >= 0.0 && t <= 1.0) || !(t2 >= 0.0 && t2 <= 1.0)) {
        PyErr_SetString(PyExc_ValueError, "inbetween: scale must be 1 or 2 and t, t2 in [0, 1]");
        goto done;
    }
    /* The sources carry one padding row and two padding columns: positions are clamped to [0, xmax] x
     * [0, ymax], a sample reads 8 bytes at (x, y) and at (x, y + 1); the fade reads 16 bytes from
     * pixel x of row y (at most up to pixel w + 1). */
    const int xmax = src0.w - 3, ymax = src0.h - 2;
    if (xmax < scale * (w - 1) || ymax < scale * (h - 1) || fade0.h < h || fade0.w < w + 2) {
        PyErr_SetString(PyExc_ValueError, "inbetween: the sources are smaller than the output needs");
        goto done;
    }
    const Job inputs = {
        .src0 = src0.b.buf, .src1 = src1.b.buf, .stride = src0.stride,
        .fade0 = fade0.b.buf, .fade1 = fade1.b.buf, .fade_stride = fade0.stride,
        .xmax64 = 64.0f * (float)xmax, .ymax64 = 64.0f * (float)ymax, .scale = scale,
        .f01 = f01.b.buf, .f10 = f10.b.buf, .lam = lam.held ? lam.b.buf : NULL, .width = w,
    };
    const Job j = at_time(inputs, t, out.b.buf), j2 = at_time(inputs, t2, out2.held ? out2.b.buf : NULL);
    const void *jobs[] = {&j, &j2};
    Py_BEGIN_ALLOW_THREADS
    each_row(jobs, out2.held ? 2 : 1, h, w, portable ? FC_PORTABLE : allow_avx2 ? FC_UP_TO_AVX2 : FC_UP_TO_SSE41,
             FC_SIMD_ROW(pixels_avx2), FC_SIMD_ROW(pixels_sse41), pixels_scalar);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(&out);
    release(&src0);
    release(&src1);
    release(&fade0);
    release(&fade1);
    release(&f01);
    release(&f10);
    release(&lam);
    release(&out2);
    return result;
}

PyDoc_STRVAR(upsample2_doc,
             "upsample2(img, dst)\n\n"
             "The exact 2x cubic upsampling of img (h, w, 3 uint8) into dst (2h, 2w + 1, 3 uint8): even\n"
             "pixels are img itself, odd ones cubic (a = -0.75) half-way values, and the last row and\n"
             "two columns replicate the edge for inbetween's 2x2 reads. Both C-contiguous.");

static PyObject *upsample2(PyObject *self, PyObject *args) {
    PyObject *o_img, *o_dst;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &o_img, &o_dst))
        return NULL;
    Arr img = {0}, dst = {0};
    PyObject *result = NULL;
    if (!get_arr(o_img, "img", 'B', 3, 0, 1, &img) || !get_arr(o_dst, "dst", 'B', 3, 1, 1, &dst))
        goto done;
    if (dst.h != 2 * img.h || dst.w != 2 * img.w + 1) {
        PyErr_SetString(PyExc_ValueError, "upsample2: dst must be (2h, 2w + 1, 3) for an (h, w, 3) img");
        goto done;
    }
    uint8_t *mid = PyMem_RawMalloc((size_t)img.w * 3);
    if (mid == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    upsample2_rows(img.b.buf, img.h, img.w, dst.b.buf, mid);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(mid);
    result = Py_NewRef(Py_None);
done:
    release(&img);
    release(&dst);
    return result;
}

static int finite_window(const Window *w, const char *what) {
    if (!isfinite(w->x0) || !isfinite(w->y0) || !isfinite(w->step)) {
        PyErr_Format(PyExc_ValueError, "%s: the window must be finite", what);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(zoom_doc,
             "zoom(src, dst, x0, y0, step)\n\n"
             "dst(x, y) = bilinear(src, x0 + x step, y0 + y step), both (h, w, 3 uint8), positions clamped to\n"
             "the frame: a camera move's window, resampled to the full frame.");

static PyObject *zoom(PyObject *self, PyObject *args) {
    PyObject *o_src, *o_dst;
    Window win;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOddd", &o_src, &o_dst, &win.x0, &win.y0, &win.step))
        return NULL;
    Arr src = {0}, dst = {0};
    Sampler s = {0};
    PyObject *result = NULL;
    if (!get_arr(o_src, "src", 'B', 3, 0, 0, &src) || !get_arr(o_dst, "dst", 'B', 3, 1, 0, &dst) ||
        !finite_window(&win, "zoom"))
        goto done;
    if (src.h != dst.h || src.w != dst.w) {
        PyErr_SetString(PyExc_ValueError, "zoom: src and dst must have the same shape");
        goto done;
    }
    if (!sampler_init(&s, src.b.buf, src.stride, src.h, src.w, dst.w, win)) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    const Py_ssize_t n = 3 * (Py_ssize_t)dst.w;
    for (int y = 0; y < dst.h; y++) {
        sampler_row(&s, y);
        uint8_t *o = (uint8_t *)dst.b.buf + (Py_ssize_t)y * dst.stride;
        for (Py_ssize_t k = 0; k < n; k++)
            o[k] = (uint8_t)((s.acc[k] + 32768u) >> 16);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    sampler_free(&s);
    release(&src);
    release(&dst);
    return result;
}

PyDoc_STRVAR(camera_doc,
             "camera(out, first, last, window0, window1, t, feather0, feather1)\n\n"
             "The camera path's in-between at t of a pan or zoom (framecast.engines.camera): first and last\n"
             "(h, w, 3 uint8, as out) are sampled bilinearly through their windows, (x0, y0, step) each:\n"
             "output pixel (x, y) reads (x0 + x step, y0 + y step), clamped to the frame. They are blended\n"
             "with weights (1 - t)(e0 + 0.001) and t (e1 + 0.001), normalised, where e is 1 inside a\n"
             "keyframe's view further than its feather (source pixels) from the edge, falling linearly to 0\n"
             "one pixel outside it.");

static PyObject *camera(PyObject *self, PyObject *args) {
    PyObject *o_out, *o_first, *o_last;
    Window w0, w1;
    double t, feather0, feather1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO(ddd)(ddd)ddd", &o_out, &o_first, &o_last, &w0.x0, &w0.y0, &w0.step, &w1.x0,
                          &w1.y0, &w1.step, &t, &feather0, &feather1))
        return NULL;
    Arr out = {0}, first = {0}, last = {0};
    Sampler s0 = {0}, s1 = {0};
    float *rx = NULL;
    uint32_t *shares = NULL;
    PyObject *result = NULL;
    if (!get_arr(o_out, "out", 'B', 3, 1, 0, &out) || !get_arr(o_first, "first", 'B', 3, 0, 0, &first) ||
        !get_arr(o_last, "last", 'B', 3, 0, 0, &last) || !finite_window(&w0, "camera") ||
        !finite_window(&w1, "camera"))
        goto done;
    if (first.h != out.h || first.w != out.w || last.h != out.h || last.w != out.w) {
        PyErr_SetString(PyExc_ValueError, "camera: first, last and out must have the same shape");
        goto done;
    }
    if (!(t >= 0.0 && t <= 1.0) || !(feather0 >= 1e-3 && feather0 <= 1e6) || !(feather1 >= 1e-3 && feather1 <= 1e6)) {
        PyErr_SetString(PyExc_ValueError, "camera: t must be in [0, 1] and the feathers in [0.001, 1e6]");
        goto done;
    }
    rx = PyMem_RawMalloc(sizeof(float) * 2 * (size_t)out.w);
    shares = PyMem_RawMalloc(sizeof(uint32_t) * 6 * (size_t)out.w);
    if (rx == NULL || shares == NULL || !sampler_init(&s0, first.b.buf, first.stride, first.h, first.w, out.w, w0) ||
        !sampler_init(&s1, last.b.buf, last.stride, last.h, last.w, out.w, w1)) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    camera_rows(&s0, &s1, out.b.buf, out.stride, out.h, (float)t, (float)feather0, (float)feather1, rx, shares);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    sampler_free(&s0);
    sampler_free(&s1);
    PyMem_RawFree(rx);
    PyMem_RawFree(shares);
    release(&out);
    release(&first);
    release(&last);
    return result;
}

PyDoc_STRVAR(camera_flow_doc,
             "camera_flow(out, first, last, flow, out_to_first, first_to_last, t, feather0, feather1,\n"
             "            portable=False, avx2=True)\n\n"
             "The camera path's in-between at t with local motion on top (framecast.engines.camera), in one\n"
             "pass: output pixel p reads the first keyframe near q = out_to_first p and the last near\n"
             "first_to_last q, each moved by the residual flows read at q, and blends them by their edge\n"
             "weights. out (h, w, 3 uint8); first and last the keyframes with one replicated row below and\n"
             "two columns right (same shape and stride); flow (fh, fw, 4 float32: f01 x, y, f10 x, y in the\n"
             "first keyframe's pixels, on its grid) or None for a camera move alone; the two maps as 9\n"
             "floats each (3x3 row-major, projective). The GIL is released while it runs. portable=True\n"
             "forces the scalar path, avx2=False the SSE4.1 one (all three give identical bytes).");

static int finite_all(const double *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]) || fabs(v[i]) > 1e30)
            return 0;
    return 1;
}

static PyObject *camera_flow(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"out", "first", "last", "flow", "out_to_first", "first_to_last",
                             "t", "feather0", "feather1", "portable", "avx2", NULL};
    PyObject *o_out, *o_first, *o_last, *o_flow;
    double m[9], hm[9], t, feather0, feather1;
    int portable = 0, allow_avx2 = 1;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO(ddddddddd)(ddddddddd)ddd|$pp", kwlist, &o_out, &o_first,
                                     &o_last, &o_flow, &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6], &m[7],
                                     &m[8], &hm[0], &hm[1], &hm[2], &hm[3], &hm[4], &hm[5], &hm[6], &hm[7],
                                     &hm[8], &t, &feather0, &feather1, &portable, &allow_avx2))
        return NULL;
    Arr out = {0}, first = {0}, last = {0}, flow = {0};
    PyObject *result = NULL;
    if (!get_arr(o_out, "out", 'B', 3, 1, 0, &out) || !get_arr(o_first, "first", 'B', 3, 0, 0, &first) ||
        !get_arr(o_last, "last", 'B', 3, 0, 0, &last) ||
        (o_flow != Py_None && !get_arr(o_flow, "flow", 'f', 4, 0, 1, &flow)))
        goto done;
    if (!same_layout(&first, &last, "first, last"))
        goto done;
    /* The keyframes carry one padding row and two padding columns: positions are clamped to [0, xmax] x
     * [0, ymax], and a sample reads 8 bytes at (x, y) and at (x, y + 1). */
    if (first.w < 3 || first.h < 2) {
        PyErr_SetString(PyExc_ValueError, "camera_flow: first and last need one padding row and two columns");
        goto done;
    }
    if (!finite_all(m, 9) || !finite_all(hm, 9)) {
        PyErr_SetString(PyExc_ValueError, "camera_flow: the maps must be finite");
        goto done;
    }
    if (!(t >= 0.0 && t <= 1.0) || !(feather0 >= 1e-3 && feather0 <= 1e6) || !(feather1 >= 1e-3 && feather1 <= 1e6)) {
        PyErr_SetString(PyExc_ValueError, "camera_flow: t must be in [0, 1] and the feathers in [0.001, 1e6]");
        goto done;
    }
    CamFlow j = {
        .src0 = first.b.buf, .src1 = last.b.buf, .stride = first.stride,
        .xmax = (float)(first.w - 3), .ymax = (float)(first.h - 2),
        .flow = flow.held ? flow.b.buf : NULL, .fw = flow.held ? flow.w : 1, .fh = flow.held ? flow.h : 1,
        .a0 = (float)(-(1.0 - t) * t), .b0 = (float)(t * t),
        .a1 = (float)((1.0 - t) * (1.0 - t)), .b1 = (float)(-t * (1.0 - t)),
        .inv0 = (float)(1.0 / feather0), .inv1 = (float)(1.0 / feather1),
        .w0 = (float)(1.0 - t), .w1 = (float)t,
        .out = out.b.buf, .out_stride = out.stride, .width = out.w,
    };
    for (int i = 0; i < 9; i++) {
        j.m[i] = (float)m[i];
        j.hm[i] = (float)hm[i];
    }
    /* Then every divisor is 0 x + 0 y + 1, exactly 1, and a division by it changes no bit: skipping the
     * four divisions per pixel leaves the output as it was. */
    j.affine = j.m[6] == 0.0f && j.m[7] == 0.0f && j.m[8] == 1.0f && j.hm[6] == 0.0f && j.hm[7] == 0.0f &&
               j.hm[8] == 1.0f;
    const void *jobs[] = {&j};
    Py_BEGIN_ALLOW_THREADS
    each_row(jobs, 1, out.h, out.w, portable ? FC_PORTABLE : allow_avx2 ? FC_UP_TO_AVX2 : FC_UP_TO_SSE41,
             FC_SIMD_ROW(camflow_avx2), FC_SIMD_ROW(camflow_sse41), camflow_scalar);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(&out);
    release(&first);
    release(&last);
    release(&flow);
    return result;
}

static PyObject *simd(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyUnicode_FromString(use_avx2 ? "avx2" : use_sse41 ? "sse4.1" : "portable");
}

static PyMethodDef methods[] = {
    {"inbetween", (PyCFunction)(void (*)(void))inbetween, METH_VARARGS | METH_KEYWORDS, inbetween_doc},
    {"upsample2", upsample2, METH_VARARGS, upsample2_doc},
    {"zoom", zoom, METH_VARARGS, zoom_doc},
    {"camera", camera, METH_VARARGS, camera_doc},
    {"camera_flow", (PyCFunction)(void (*)(void))camera_flow, METH_VARARGS | METH_KEYWORDS, camera_flow_doc},
    {"simd", simd, METH_NOARGS,
     "The widest instruction set the kernels run with: 'avx2' (inbetween and camera_flow; the others "
     "SSE4.1), 'sse4.1' or 'portable'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_kernels", .m_doc = NULL, .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
#ifdef FC_HAVE_SSE41
    __builtin_cpu_init();
    use_sse41 = __builtin_cpu_supports("sse4.1");
    use_avx2 = use_sse41 && __builtin_cpu_supports("avx2");
#endif
    return PyModule_Create(&module);
}
