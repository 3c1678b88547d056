/* /embed-code: the portal developer chooses size, legend, title and language; the iframe
 * snippet and the preview follow, and one button copies the snippet. Nothing is loaded from
 * another host. */
(function () {
  "use strict";
  var form = document.getElementById("embed-options");
  var area = document.getElementById("snippet");
  var preview = document.getElementById("preview");
  if (!form || !area) { return; }
  var base = new DOMParser().parseFromString(area.value, "text/html").querySelector("iframe");
  var src = base.getAttribute("src");
  var title = base.getAttribute("title") || "";

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }
  function value(name) {
    var el = form.elements[name];
    if (!el) { return null; }
    if (el.type === "checkbox") { return el.checked; }
    return el.value;
  }
  function url() {
    var u = new URL(src, window.location.href);
    if (!value("legend")) { u.searchParams.set("legend", "0"); } else { u.searchParams.delete("legend"); }
    if (!value("title")) { u.searchParams.set("title", "0"); } else { u.searchParams.delete("title"); }
    var lang = value("lang");
    if (lang && lang !== "both") { u.searchParams.set("lang", lang); } else { u.searchParams.delete("lang"); }
    return u;
  }
  function snippet() {
    var u = url().toString();
    var size = value("size");
    if (size === "responsive") {
      return "<div style=\"position:relative;width:100%;aspect-ratio:4/3;max-height:80vh\">" +
        "<iframe src=\"" + esc(u) + "\" style=\"position:absolute;inset:0;width:100%;height:100%;border:0\" " +
        "title=\"" + esc(title) + "\" loading=\"lazy\"></iframe></div>";
    }
    var wh = size.split("x");
    return "<iframe src=\"" + esc(u) + "\" width=\"" + wh[0] + "\" height=\"" + wh[1] +
      "\" style=\"border:0\" title=\"" + esc(title) + "\" loading=\"lazy\"></iframe>";
  }
  function update() {
    area.value = snippet();
    if (preview) {
      var u = url();
      preview.src = u.pathname + u.search;
      var size = value("size");
      if (size === "responsive") {
        preview.style.width = "100%"; preview.style.height = "420px";
      } else {
        var wh = size.split("x");
        preview.style.width = wh[0] + "px"; preview.style.height = wh[1] + "px";
      }
    }
  }
  form.addEventListener("change", update);
  var copy = document.getElementById("copy");
  var done = document.getElementById("copied");
  copy.addEventListener("click", function () {
    function ok() { if (done) { done.textContent = "คัดลอกแล้ว · Copied"; } }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(ok, function () {
        area.select(); document.execCommand("copy"); ok();
      });
    } else {
      area.select(); document.execCommand("copy"); ok();
    }
  });
  update();
})();
