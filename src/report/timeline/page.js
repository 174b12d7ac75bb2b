// The timeline page's behaviour: one shared tooltip for every bar (found by its data-i through
// one listener, so 20 000 bars cost no listeners), horizontal zoom that scales the bars' group
// and redraws the time axis, and test names written on the bars wide enough to hold them, for
// the part of the plot in view only. No network: everything is in the page.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var plot = document.getElementById("plot");
  var zoomed = document.getElementById("zoom");
  var names = document.getElementById("names");
  var rects = zoomed.querySelectorAll("rect[data-i]");
  var axis = document.getElementById("axis");
  var scroll = document.getElementById("scroll");
  var tip = document.getElementById("tip");
  var svgNs = plot.namespaceURI;
  var baseWidth = +plot.getAttribute("width");
  var height = +plot.getAttribute("height");
  var k = 1;
  var pinned = false;

  function seconds(us) {
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(3) + " s";
  }

  // Ticks about 100 px apart at 1, 2 or 5 times a power of ten; the same steps the writer drew.
  function drawAxis() {
    var pxPerS = data.pxPerS * k;
    var raw = 100 / pxPerS, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; })
      .find(function (s) { return s >= raw; });
    while (axis.firstChild) axis.removeChild(axis.firstChild);
    var end = (baseWidth - data.x0) / data.pxPerS;
    for (var i = 0; i * step <= end + 1e-9; i++) {
      var x = data.x0 + i * step * pxPerS;
      var line = document.createElementNS(svgNs, "line");
      line.setAttribute("class", "grid");
      line.setAttribute("x1", x); line.setAttribute("x2", x);
      line.setAttribute("y1", 18); line.setAttribute("y2", height);
      var text = document.createElementNS(svgNs, "text");
      text.setAttribute("x", x + 2); text.setAttribute("y", 13);
      text.textContent = i === 0 ? "0" : seconds(Math.round(i * step * 1e6));
      axis.appendChild(line); axis.appendChild(text);
    }
  }

  // A test's name as it fits in `width` pixels: whole, else its last path segment, else cut.
  function fit(name, width) {
    var room = Math.floor((width - 6) / 6.2);
    if (room < 4) return "";
    var cut = name.lastIndexOf("::");
    if (name.length > room && cut >= 0) name = name.slice(cut + 2);
    return name.length > room ? name.slice(0, room - 1) + "…" : name;
  }

  // Names on the bars in view (and a margin), at most a few thousand at once.
  var namesDue = false;
  function drawNames() {
    namesDue = false;
    while (names.firstChild) names.removeChild(names.firstChild);
    var left = scroll.scrollLeft - 200, right = scroll.scrollLeft + scroll.clientWidth + 200;
    var pxPerUs = data.pxPerS * k / 1e6, drawn = 0;
    for (var i = 0; i < data.bars.length && drawn < 3000; i++) {
      var bar = data.bars[i], width = bar[5] * pxPerUs;
      if (width < 40) continue;
      var x = data.x0 + bar[4] * pxPerUs;
      if (x + width < left || x > right) continue;
      var label = fit(data.tests[bar[0]][1], width);
      if (!label) continue;
      var text = document.createElementNS(svgNs, "text");
      text.setAttribute("x", x + 3);
      text.setAttribute("y", rects[i].y.baseVal.value + rects[i].height.baseVal.value / 2 + 4);
      text.textContent = label;
      names.appendChild(text);
      drawn++;
    }
  }
  function namesLater() {
    if (!namesDue) { namesDue = true; window.requestAnimationFrame(drawNames); }
  }

  function setZoom(next, clientX) {
    next = Math.max(1, Math.min(next, data.maxZoom));
    var box = scroll.getBoundingClientRect();
    var at = clientX === undefined ? scroll.clientWidth / 2 : clientX - box.left;
    var t = (scroll.scrollLeft + at - data.x0) / (data.pxPerS * k);
    k = next;
    zoomed.setAttribute("transform",
      "translate(" + data.x0 + " 0) scale(" + k + " 1) translate(" + -data.x0 + " 0)");
    plot.setAttribute("width", data.x0 + (baseWidth - data.x0) * k);
    drawAxis();
    scroll.scrollLeft = data.x0 + t * data.pxPerS * k - at;
    namesLater();
  }

  function row(list, term, value) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = value;
    list.appendChild(dt); list.appendChild(dd);
  }

  function show(rect, x, y) {
    var bar = data.bars[+rect.getAttribute("data-i")];
    var test = data.tests[bar[0]];
    tip.textContent = "";
    var title = document.createElement("b");
    title.textContent = test[1];
    tip.appendChild(title);
    var list = document.createElement("dl");
    row(list, "binary", data.binaries[test[0]]);
    row(list, "pass", data.passes[bar[1]]);
    row(list, "outcome", bar[7]);
    row(list, "attempt", bar[2] > 0 ? String(bar[2]) : "?");
    row(list, "duration", seconds(bar[5]));
    row(list, "start", seconds(bar[4]) + " on worker " + bar[3]);
    if (bar[6] !== null) row(list, "batch", "chunk " + bar[6] + " (many tests, one process)");
    if (rect.classList.contains("pole")) row(list, "long pole", "the run's end waited for it");
    if (rect.classList.contains("ni")) row(list, "not isolated", test[3] || "");
    var code = document.createElement("code");
    code.textContent = test[2] || "(not recorded: the JSON stream gives it for failures)";
    row(list, "rerun", code);
    tip.appendChild(list);
    tip.hidden = false;
    var left = Math.min(x + 14, window.innerWidth - tip.offsetWidth - 8);
    var top = y + 14 + tip.offsetHeight > window.innerHeight ? y - tip.offsetHeight - 10 : y + 14;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = Math.max(4, top) + "px";
  }

  plot.addEventListener("mousemove", function (e) {
    if (pinned) return;
    if (e.target.hasAttribute("data-i")) show(e.target, e.clientX, e.clientY);
    else tip.hidden = true;
  });
  plot.addEventListener("mouseleave", function () { if (!pinned) tip.hidden = true; });
  plot.addEventListener("click", function (e) {
    var onBar = e.target.hasAttribute("data-i");
    pinned = onBar && !pinned;
    tip.classList.toggle("pinned", pinned);
    if (onBar) show(e.target, e.clientX, e.clientY); else tip.hidden = true;
  });
  scroll.addEventListener("scroll", namesLater);
  scroll.addEventListener("wheel", function (e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    setZoom(k * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX);
  }, { passive: false });
  document.querySelectorAll("button[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var how = button.getAttribute("data-zoom");
      setZoom(how === "in" ? k * 2 : how === "out" ? k / 2 : 1);
    });
  });
  // `page.html#zoom=K&bar=N` opens zoomed K times, with bar N's details pinned: a link that
  // points someone at one test.
  var zoom = /[#&]zoom=([\d.]+)/.exec(window.location.hash);
  if (zoom) setZoom(+zoom[1]); else drawNames();
  var linked = /[#&]bar=(\d+)/.exec(window.location.hash);
  if (linked && rects[+linked[1]]) {
    var box = rects[+linked[1]].getBoundingClientRect();
    pinned = true;
    tip.classList.add("pinned");
    show(rects[+linked[1]], box.left + Math.min(box.width, 40), box.top + box.height / 2);
    tip.style.top = box.bottom + 6 + "px";
  }
  document.body.setAttribute("data-ready", String(data.bars.length));
})();
