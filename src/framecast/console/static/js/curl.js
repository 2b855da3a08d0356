// The request that made a task, as a curl command in the Vidu dialect that a person can copy and rerun.

// Vidu's task "type" -> the create route that makes it
const ENDPOINT_BY_TYPE = {
  headtailimg2video: "start-end2video",
  img2video: "img2video",
  text2video: "text2video",
  character2video: "reference2video",
};

/** A word quoted for a POSIX shell. */
export function shellQuote(word) {
  return `'${String(word).replace(/'/g, `'\\''`)}'`;
}

/**
 * What the console sent, kept without the image bytes: {endpoint, body, files: [{name, type}]}.
 * Built from a Vidu list item when the task was not made in this tab; inline images then read back as
 * image-1.jpg, image-2.jpg, ...
 */
export function requestFromListItem(item) {
  const body = { model: item.model };
  if (item.prompt) body.prompt = item.prompt;
  if (item.images && item.images.length) body.images = item.images;
  if (item.duration) body.duration = item.duration;
  if (item.resolution) body.resolution = item.resolution;
  if (item.aspect_ratio) body.aspect_ratio = item.aspect_ratio;
  if (item.payload) body.payload = item.payload;
  return { endpoint: ENDPOINT_BY_TYPE[item.type] || "img2video", body, files: [] };
}

/**
 * @param {string} origin e.g. "http://127.0.0.1:8000"
 * @param {{endpoint: string, body: object, files: {name: string, type: string}[]}} request
 * @param {number | null} seed the seed the task used, so that the command makes the same video again
 */
export function curlCommand(origin, request, seed) {
  const body = { ...request.body };
  if (seed) body.seed = seed;
  const inline = [];
  if (Array.isArray(body.images)) {
    body.images = body.images.map((src, i) => {
      if (!String(src).startsWith("data:")) return src;
      inline.push(request.files[i] || { name: `image-${i + 1}.jpg`, type: "image/jpeg" });
      return `@@image-${inline.length - 1}@@`;
    });
  }
  const json = JSON.stringify(body);
  const post = [
    `curl -sS -X POST ${shellQuote(`${origin}/ent/v2/${request.endpoint}`)} \\`,
    `  -H "Authorization: Token $FRAMECAST_API_KEY" \\`,
    `  -H 'Content-Type: application/json' \\`,
  ];
  if (!inline.length) return [...post, `  -d ${shellQuote(json)}`].join("\n");
  // A photo is too big for one command-line argument, so each inline image is read back from its file
  // into body.json by the shell's own printf (a builtin: no length limit), and curl sends that file.
  const parts = json.split(/@@image-(\d+)@@/).map((part, i) => {
    if (i % 2 === 0) return shellQuote(part);
    const file = inline[Number(part)];
    return `"$(img ${shellQuote(file.type || "image/jpeg")} ${shellQuote(file.name)})"`;
  });
  return [
    `img() { printf 'data:%s;base64,' "$1"; base64 < "$2" | tr -d '\\n'; }`,
    `printf '%s' ${parts.join(" ")} > body.json`,
    ...post,
    "  --data-binary @body.json",
  ].join("\n");
}
