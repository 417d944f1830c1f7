/*
 * Softmax of editable logits z at temperature T, and the cross-entropy of one chosen class c:
 *   p_i = exp(z_i / T - lse),   lse = log sum_j exp(z_j / T),   cross-entropy = lse - z_c / T.
 * Both come from the log-sum-exp, so no exp ever overflows and no probability is rounded to 0
 * before its logarithm is taken.
 * Embed with <div class="lossbook-widget" data-widget="softmax"></div> (see widgets-core.js).
 */
(function () {
  "use strict";
  const w = window.lossbookWidgets;

  function softmaxWithCrossEntropy(logits, temperature, target) {
    const scaled = logits.map(function (z) { return z / temperature; });
    const lse = w.logSumExp(scaled);
    return {
      probabilities: scaled.map(function (s) { return Math.exp(s - lse); }),
      crossEntropy: lse - scaled[target],
    };
  }

  function logitInput(index, value) {
    const input = w.element("input", {
      type: "number", name: "logit", step: "0.1", "data-class": index,
      "aria-label": "logit of class " + (index + 1),
    });
    input.value = value;
    return input;
  }

  function build(root) {
    const start = (root.dataset.logits || "2,1,0.1,-1").split(",").map(Number);
    const inputs = start.map(function (z, i) { return logitInput(i, z); });
    const temperature = w.slider({
      name: "temperature", label: "temperature T", min: 0.1, max: 5, step: 0.05,
      value: root.dataset.temperature || 1, digits: 2,
    });
    const target = w.element("select", { name: "target", "aria-label": "target class" });
    start.forEach(function (_, i) {
      target.append(w.element("option", { value: i }, ["class " + (i + 1)]));
    });
    target.value = root.dataset.target || 0;

    const probabilities = start.map(function (_, i) {
      const out = w.readout("probability", "p" + (i + 1));
      out.element.dataset.class = i;
      return out;
    });
    const crossEntropy = w.readout("cross-entropy", "cross-entropy");

    const logitRow = w.element("div", { class: "lbw-control lbw-logits" }, [w.element("span", {}, ["logits z"])].concat(inputs));
    const targetRow = w.element("label", { class: "lbw-control" }, ["cross-entropy of ", target]);
    const figure = w.element("div", { class: "lbw-figure" });
    root.append(
      figure,
      w.element("div", { class: "lbw-controls" }, [logitRow, temperature.element, targetRow]),
      w.element("div", { class: "lbw-readouts", "aria-live": "polite" },
        probabilities.map(function (o) { return o.element; }).concat([crossEntropy.element])),
    );

    let current = null;
    const view = w.plot(figure, {
      title: "Softmax probabilities of the logits",
      x: [0, start.length], y: [0, 1],
      xTicks: start.map(function (_, i) { return i + 0.5; }),
      xTickFormat: function (v) { return "class " + (v + 0.5); },
      xLabel: "class", yLabel: "probability",
      draw: function (v) {
        if (!current) {
          return;
        }
        const chosen = Number(target.value);
        const slot = v.x(1) - v.x(0);
        current.probabilities.forEach(function (p, i) {
          v.area.append(w.svgElement("rect", {
            class: "lbw-bar " + (i === chosen ? "lbw-series-2" : "lbw-series-1"),
            x: v.x(i) + slot * 0.2, width: slot * 0.6, y: v.y(p), height: v.y(0) - v.y(p),
          }));
        });
      },
    });

    function update() {
      const logits = inputs.map(function (input) { return Number(input.value); });
      const valid = inputs.map(function (input, i) {
        const ok = input.value.trim() !== "" && isFinite(logits[i]);
        input.setAttribute("aria-invalid", String(!ok));
        return ok;
      });
      if (valid.indexOf(false) !== -1) {
        return;
      }
      current = softmaxWithCrossEntropy(logits, Number(temperature.input.value), Number(target.value));
      current.probabilities.forEach(function (p, i) { probabilities[i].set(p); });
      crossEntropy.set(current.crossEntropy);
      view.render();
    }
    inputs.concat([temperature.input, target]).forEach(function (control) {
      control.addEventListener("input", update);
    });
    update();
  }

  w.register("softmax", build);
})();
