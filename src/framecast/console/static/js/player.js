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
 * @param {object[]} creations Vidu's creations: {id, url, cover_url, watermarked_url, video: {...}}
 * @param {number | null} seed the seed the task used
 */
export function showCreations(container, taskId, creations, seed) {
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
    const v = c.video || {};
    const size = v.resolution ? `${v.resolution.width}×${v.resolution.height}` : "";
    facts.textContent = [`Seed ${seed ?? "unknown"}`, size, v.fps ? `${v.fps} fps` : "", v.duration ? `${v.duration} s` : ""]
      .filter(Boolean)
      .join(" · ");
    figure.append(video, facts, links);
    container.append(figure);
  });
}
