/*
 * Binary log loss against the predicted probability p, for a soft label y in [0, 1]:
 *   loss(p, y) = -y log p - (1 - y) log(1 - p),
 * smallest at p = y, where it equals the entropy of the label (0 for a hard label).
 * Embed with <div class="lossbook-widget" data-widget="log-loss"></div> (see widgets-core.js).
 */
(function () {
  "use strict";
  const w = window.lossbookWidgets;
  const LOSS_CEILING = 5;

  // weight * -log(q), taken as 0 when the weight is 0 so that 0 * log 0 never makes a NaN.
  function weightedSurprise(weight, logOfQ) {
    return weight === 0 ? 0 : -weight * logOfQ;
  }

  /*
   * The probability comes straight from a slider, so log(p) and log1p(-p) are exact to rounding
   * even next to 0 and 1. Their negatives are softplus(-z) and softplus(z) of the logit z, got
   * here without forming z and losing digits to it.
   */
  function logLoss(p, y) {
    return weightedSurprise(y, Math.log(p)) + weightedSurprise(1 - y, Math.log1p(-p));
  }

  function build(root) {
    const label = w.slider({
      name: "label", label: "label y", min: 0, max: 1, step: 0.01,
      value: root.dataset.label || 0.8, digits: 2,
    });
    const probe = w.slider({
      name: "probability", label: "predicted probability p", min: 0.001, max: 0.999, step: 0.001,
      value: root.dataset.probability || 0.3, digits: 3,
    });
    const loss = w.readout("loss", "loss(p, y)");
    const entropy = w.readout("entropy", "smallest loss, at p = y");
    const figure = w.element("div", { class: "lbw-figure" });
    const controls = w.element("div", { class: "lbw-controls" }, [label.element, probe.element]);
    const readouts = w.element("div", { class: "lbw-readouts", "aria-live": "polite" }, [loss.element, entropy.element]);
    root.append(figure, controls, readouts);

    const view = w.plot(figure, {
      title: "Binary log loss against the predicted probability",
      x: [0, 1], y: [0, LOSS_CEILING],
      xLabel: "predicted probability p", yLabel: "loss",
      draw: function (v) {
        const y = Number(label.input.value);
        const p = Number(probe.input.value);
        w.curve(v, w.sample(0.0005, 0.9995, 400, function (q) { return logLoss(q, y); }), "lbw-line lbw-series-1");
        const best = logLoss(y, y);
        v.area.append(w.svgElement("line", { class: "lbw-marker", x1: v.x(y), x2: v.x(y), y1: v.y(0), y2: v.y(LOSS_CEILING) }));
        v.area.append(w.svgElement("circle", { class: "lbw-point lbw-series-2", cx: v.x(y), cy: v.y(best), r: 4 }));
        v.area.append(w.svgElement("circle", { class: "lbw-point lbw-probe", cx: v.x(p), cy: v.y(logLoss(p, y)), r: 5 }));
      },
    });

    function update() {
      const y = Number(label.input.value);
      const p = Number(probe.input.value);
      loss.set(logLoss(p, y));
      entropy.set(logLoss(y, y));
      view.render();
    }
    label.input.addEventListener("input", update);
    probe.input.addEventListener("input", update);
    update();
  }

  w.register("log-loss", build);
})();
