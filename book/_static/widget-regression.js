/*
 * Regression losses against the residual r = prediction - target:
 *   L1 = |r|,   L2 = r^2 / 2 (gluon's L2Loss; torch's MSELoss is r^2),
 *   Huber_delta = r^2 / 2 where |r| <= delta, else delta (|r| - delta / 2).
 * Huber is L2 near zero and a shifted L1 beyond the threshold delta, so one outlier pulls on the
 * fit with a force of at most delta.
 * Embed with <div class="lossbook-widget" data-widget="regression"></div> (see widgets-core.js).
 */
(function () {
  "use strict";
  const w = window.lossbookWidgets;
  const RESIDUAL_RANGE = 3;
  const LOSS_CEILING = 4.5;

  const losses = {
    l1: function (r) { return Math.abs(r); },
    l2: function (r) { return 0.5 * r * r; },
    huber: function (r, delta) {
      const size = Math.abs(r);
      return size <= delta ? 0.5 * r * r : delta * (size - 0.5 * delta);
    },
  };
  const captions = { l1: "L1 |r|", l2: "L2 r²/2", huber: "Huber" };
  const series = { l1: "lbw-series-1", l2: "lbw-series-3", huber: "lbw-series-2" };

  function build(root) {
    const delta = w.slider({
      name: "delta", label: "Huber threshold δ", min: 0.1, max: 3, step: 0.05,
      value: root.dataset.delta || 1, digits: 2,
    });
    const residual = w.slider({
      name: "residual", label: "residual r", min: -RESIDUAL_RANGE, max: RESIDUAL_RANGE, step: 0.01,
      value: root.dataset.residual || 1.5, digits: 2,
    });
    const outputs = {};
    Object.keys(losses).forEach(function (name) {
      outputs[name] = w.readout(name, captions[name]);
      outputs[name].element.classList.add(series[name]);
    });
    const figure = w.element("div", { class: "lbw-figure" });
    root.append(
      figure,
      w.element("div", { class: "lbw-controls" }, [delta.element, residual.element]),
      w.element("div", { class: "lbw-readouts lbw-legend", "aria-live": "polite" },
        Object.keys(losses).map(function (name) { return outputs[name].element; })),
    );

    const view = w.plot(figure, {
      title: "L1, L2 and Huber losses against the residual",
      x: [-RESIDUAL_RANGE, RESIDUAL_RANGE], y: [0, LOSS_CEILING],
      xLabel: "residual r", yLabel: "loss",
      draw: function (v) {
        const d = Number(delta.input.value);
        const r = Number(residual.input.value);
        [-d, d].forEach(function (edge) {
          v.area.append(w.svgElement("line", { class: "lbw-marker", x1: v.x(edge), x2: v.x(edge), y1: v.y(0), y2: v.y(LOSS_CEILING) }));
        });
        Object.keys(losses).forEach(function (name) {
          const points = w.sample(-RESIDUAL_RANGE, RESIDUAL_RANGE, 300, function (x) { return losses[name](x, d); });
          w.curve(v, points, "lbw-line " + series[name]);
          v.area.append(w.svgElement("circle", { class: "lbw-point " + series[name], cx: v.x(r), cy: v.y(losses[name](r, d)), r: 4 }));
        });
      },
    });

    function update() {
      const d = Number(delta.input.value);
      const r = Number(residual.input.value);
      Object.keys(losses).forEach(function (name) { outputs[name].set(losses[name](r, d)); });
      view.render();
    }
    delta.input.addEventListener("input", update);
    residual.input.addEventListener("input", update);
    update();
  }

  w.register("regression", build);
})();
