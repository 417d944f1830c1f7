/*
 * lossbook widgets: interactive loss figures that run in the page, with no kernel.
 *
 * Embed a widget anywhere in the book with one raw HTML block:
 *
 *   ```{raw} html
 *   <div class="lossbook-widget" data-widget="log-loss"></div>
 *   ```
 *
 * data-widget names the figure:
 *   log-loss    binary log loss against the predicted probability; optional data-label="0.3"
 *               (the soft label) and data-probability="0.8" (the probe)
 *   softmax     softmax of editable logits with a temperature; optional data-logits="2,1,0.1,-1",
 *               data-temperature="1" and data-target="0" (the class whose cross-entropy is shown)
 *   regression  L1, L2 and Huber losses against the residual; optional data-delta="1" and
 *               data-residual="1.5"
 *
 * Each widget writes what it computes into the page: every <output> carries
 * data-quantity (what it is) and data-value (the number at full double precision).
 *
 * This file holds what the widgets share: the registry, a stable log-sum-exp, controls and an SVG
 * plot.
 * Each widget lives in its own widget-*.js file and calls lossbookWidgets.register().
 */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const builders = {};

  // Widgets are built as soon as both the page and their builder are there, in either order.
  function register(name, build) {
    builders[name] = build;
    if (document.readyState !== "loading") {
      mountAll();
    }
  }

  function mountAll() {
    document.querySelectorAll(".lossbook-widget[data-widget]").forEach(function (root) {
      const build = builders[root.dataset.widget];
      if (build && !root.dataset.mounted) {
        root.dataset.mounted = "true";
        build(root);
      }
    });
  }

  // log(sum(exp(values))), shifted by the maximum so that no exp overflows.
  function logSumExp(values) {
    const top = Math.max.apply(null, values);
    if (!isFinite(top)) {
      return top;
    }
    let total = 0;
    values.forEach(function (v) {
      total += Math.exp(v - top);
    });
    return top + Math.log(total);
  }

  function format(value, digits) {
    return Number(value).toFixed(digits === undefined ? 4 : digits);
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) {
      node.append(child);
    });
    return node;
  }

  function svgElement(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.keys(attributes || {}).forEach(function (key) {
      node.setAttribute(key, attributes[key]);
    });
    return node;
  }

  let uniqueId = 0;
  function nextId(prefix) {
    uniqueId += 1;
    return "lbw-" + prefix + "-" + uniqueId;
  }

  // A labelled range slider whose current value is echoed next to its label.
  function slider(options) {
    const id = nextId(options.name);
    const input = element("input", {
      type: "range",
      id: id,
      name: options.name,
      min: options.min,
      max: options.max,
      step: options.step,
    });
    input.value = options.value;
    const echo = element("span", { class: "lbw-echo" });
    const label = element("label", { for: id }, [options.label + " = ", echo]);
    function show() {
      echo.textContent = format(input.value, options.digits);
    }
    input.addEventListener("input", show);
    show();
    return { element: element("div", { class: "lbw-control" }, [label, input]), input: input };
  }

  // An <output> that shows a rounded number and keeps the exact one in data-value.
  function readout(quantity, caption) {
    const value = element("span", { class: "lbw-value" });
    const node = element("output", { "data-quantity": quantity }, [caption + " = ", value]);
    return {
      element: node,
      set: function (number) {
        node.dataset.value = String(number);
        value.textContent = format(number);
      },
    };
  }

  function linearScale(domain, range) {
    const slope = (range[1] - range[0]) / (domain[1] - domain[0]);
    return function (v) {
      return range[0] + (v - domain[0]) * slope;
    };
  }

  function ticks(domain, count) {
    const raw = (domain[1] - domain[0]) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; })
      .find(function (s) { return s >= raw; });
    const values = [];
    for (let v = Math.ceil(domain[0] / step) * step; v <= domain[1] + 1e-9; v += step) {
      values.push(Math.abs(v) < 1e-12 ? 0 : v);
    }
    return values;
  }

  /*
   * An SVG plot that fills its container's width and redraws itself when that width changes.
   * options: title, x and y (data ranges), xLabel, yLabel, height, and optionally xTicks (the
   * values to label, without grid lines) with xTickFormat(value). draw(view) is called with
   * { svg, x, y, width, height, area } after the axes are drawn; x and y map data to pixels and
   * area is the group, clipped to the plotting area, that curves go in.
   */
  function plot(container, options) {
    const height = options.height || 260;
    const margin = { top: 12, right: 14, bottom: 40, left: 48 };
    const svg = svgElement("svg", { class: "lbw-plot", role: "img", "aria-label": options.title });
    container.append(svg);
    let width = 0;

    function render() {
      width = Math.max(240, Math.round(container.clientWidth || 480));
      svg.setAttribute("viewBox", "0 0 " + width + " " + height);
      svg.setAttribute("width", width);
      svg.setAttribute("height", height);
      svg.replaceChildren();
      const x = linearScale(options.x, [margin.left, width - margin.right]);
      const y = linearScale(options.y, [height - margin.bottom, margin.top]);
      const clipId = nextId("clip");
      const clip = svgElement("clipPath", { id: clipId });
      clip.append(svgElement("rect", {
        x: margin.left, y: margin.top,
        width: width - margin.left - margin.right, height: height - margin.top - margin.bottom,
      }));
      svg.append(clip);
      drawAxes(x, y);
      const area = svgElement("g", { "clip-path": "url(#" + clipId + ")" });
      svg.append(area);
      options.draw({ svg: svg, x: x, y: y, width: width, height: height, area: area });
    }

    function drawAxes(x, y) {
      const axes = svgElement("g", { class: "lbw-axes" });
      const xTicks = options.xTicks || ticks(options.x, Math.max(3, Math.floor(width / 90)));
      const xFormat = options.xTickFormat || function (v) { return String(+v.toFixed(6)); };
      const yTicks = ticks(options.y, 5);
      xTicks.forEach(function (v) {
        if (!options.xTicks) {
          axes.append(svgElement("line", { class: "lbw-grid", x1: x(v), x2: x(v), y1: y(options.y[0]), y2: y(options.y[1]) }));
        }
        const label = svgElement("text", { x: x(v), y: height - margin.bottom + 16, "text-anchor": "middle" });
        label.textContent = xFormat(v);
        axes.append(label);
      });
      yTicks.forEach(function (v) {
        axes.append(svgElement("line", { class: "lbw-grid", x1: x(options.x[0]), x2: x(options.x[1]), y1: y(v), y2: y(v) }));
        const label = svgElement("text", { x: margin.left - 6, y: y(v) + 4, "text-anchor": "end" });
        label.textContent = String(+v.toFixed(6));
        axes.append(label);
      });
      axes.append(svgElement("path", {
        class: "lbw-frame",
        d: "M" + x(options.x[0]) + "," + y(options.y[1]) + "V" + y(options.y[0]) + "H" + x(options.x[1]),
      }));
      const xTitle = svgElement("text", { x: (margin.left + width - margin.right) / 2, y: height - 6, "text-anchor": "middle" });
      xTitle.textContent = options.xLabel;
      const yTitle = svgElement("text", {
        x: 0, y: 0, "text-anchor": "middle",
        transform: "translate(13," + (margin.top + height - margin.bottom) / 2 + ") rotate(-90)",
      });
      yTitle.textContent = options.yLabel;
      axes.append(xTitle, yTitle);
      svg.append(axes);
    }

    new ResizeObserver(function () {
      if (Math.round(container.clientWidth) !== width) {
        render();
      }
    }).observe(container);
    render();
    return { render: render };
  }

  // An SVG path through the points [[x, y], ...], already in data coordinates.
  function curve(view, points, className) {
    const d = points.map(function (p, i) {
      return (i ? "L" : "M") + view.x(p[0]).toFixed(2) + "," + view.y(p[1]).toFixed(2);
    }).join("");
    view.area.append(svgElement("path", { class: className, d: d }));
  }

  function sample(from, to, count, f) {
    const points = [];
    for (let i = 0; i <= count; i += 1) {
      const x = from + ((to - from) * i) / count;
      points.push([x, f(x)]);
    }
    return points;
  }

  window.lossbookWidgets = {
    register: register,
    logSumExp: logSumExp,
    element: element,
    svgElement: svgElement,
    slider: slider,
    readout: readout,
    plot: plot,
    curve: curve,
    sample: sample,
  };

  document.addEventListener("DOMContentLoaded", mountAll);
})();
