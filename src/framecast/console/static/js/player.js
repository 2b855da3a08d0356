// One creation: a <video> that plays the server's signed file URL (the cover as its poster), download
// links, the seed and the size.

function link(href, text, fileName) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.download = fileName;
  return a;
}

/**
 * @param {HTMLElement} container emptied and refilled
 * @param {string} taskId
 * @param {object[]} creations as GET /v1/tasks/{id} lists them: {url, cover_url, watermarked_url, width,
 *   height, fps, duration, seed}; each creation has its own seed
 */
export function showCreations(container, taskId, creations) {
  container.replaceChildren();
  creations.forEach((c, i) => {
    const figure = document.createElement("figure");
    figure.className = "creation";
    const video = document.createElement("video");
    video.controls = true;
    video.preload = "auto";
    video.playsInline = true;
    video.poster = c.cover_url;
    video.src = c.url;
    video.setAttribute("aria-label", `Video ${i + 1} of task ${taskId}`);
    const links = document.createElement("ul");
    const items = [link(c.url, "Download video", `${taskId}-${i + 1}.mp4`)];
    if (c.watermarked_url) {
      items.push(link(c.watermarked_url, "Download watermarked video", `${taskId}-${i + 1}-watermarked.mp4`));
    }
    items.push(link(c.cover_url, "Download cover", `${taskId}-${i + 1}.jpg`));
    for (const a of items) {
      const li = document.createElement("li");
      li.append(a);
      links.append(li);
    }
    const facts = document.createElement("figcaption");
    facts.textContent = [`Seed ${c.seed}`, `${c.width}×${c.height}`, `${c.fps} fps`, `${c.duration} s`].join(" · ");
    figure.append(video, facts, links);
    container.append(figure);
  });
}
