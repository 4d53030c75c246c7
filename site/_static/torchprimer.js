// Concept figures and plots open full size on click: wrap each article image that is
// not already a link in a link to the image file itself.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("article.bd-article img").forEach((img) => {
    if (img.closest("a")) return;
    const link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "figure-full-size";
    link.title = "Open the full-size image";
    img.replaceWith(link);
    link.appendChild(img);
  });
});
