/* amt-emulator console: read-only pages over the SageMaker API the users call.
 *
 * Data comes from the same endpoint boto3 talks to (POST / with X-Amz-Target) and from the
 * emulator's own /_emulator/ endpoints (metric series, log tail). No framework, no build step:
 * a hash router picks a view; a view builds its page once and refreshes its sections every
 * 2 seconds while the job it shows is running. Charts are inline SVG drawn by `chart()`.
 * Every piece of data reaches the page through textContent/attributes, never as HTML.
 */
"use strict";

(() => {
  const POLL_MS = 2000;
  const IDLE_POLL_MS = 5000;
  const RUNNING = new Set(["InProgress", "Stopping"]);
  const PALETTE = ["#2563eb", "#0891b2", "#7c3aed", "#0d9488", "#ca8a04", "#4f46e5",
    "#15803d", "#0284c7", "#9333ea", "#65a30d", "#475569", "#c2410c"];
  const STOPPED_COLOR = "#dc2626";
  const BEST_COLOR = "#16a34a";

  /* ---------- data access ---------- */

  async function sagemaker(operation, body) {
    const response = await fetch("/", {
      method: "POST",
      headers: {
        "X-Amz-Target": `SageMaker.${operation}`,
        "Content-Type": "application/x-amz-json-1.1",
      },
      body: JSON.stringify(body || {}),
    });
    return answer(response);
  }

  async function emulator(path) {
    return answer(await fetch(path, { headers: { Accept: "application/json" } }));
  }

  async function answer(response) {
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(data.message || data.Message || `HTTP ${response.status}`);
    }
    return data;
  }

  /** Every page of a paginated list operation. */
  async function listAll(operation, body, key) {
    const items = [];
    let token;
    do {
      const page = await sagemaker(operation, { ...body, ...(token ? { NextToken: token } : {}) });
      items.push(...(page[key] || []));
      token = page.NextToken;
    } while (token);
    return items;
  }

  const seriesUrl = (job) => `/_emulator/training-jobs/${encodeURIComponent(job)}/metrics`;
  const logsUrl = (job, n) => `/_emulator/training-jobs/${encodeURIComponent(job)}/logs?tail=${n}`;

  /* ---------- DOM ---------- */

  const SVG_NS = "http://www.w3.org/2000/svg";

  function build(element, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /** Replace an element's children, skipping empty ones as `h` does. */
  function replace(element, ...children) {
    element.replaceChildren();
    return build(element, {}, children);
  }

  const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) =>
    build(document.createElementNS(SVG_NS, tag), attrs, children);

  const link = (href, text) => h("a", { href }, text);
  const tuningHref = (name) => `#/tuning/${encodeURIComponent(name)}`;
  const trainingHref = (name) => `#/training/${encodeURIComponent(name)}`;

  function badge(status) {
    return h("span", { class: `badge s-${status || "Unknown"}` }, status || "—");
  }

  function section(id, title, ...extra) {
    return h("section", { id, class: "card" }, h("h2", {}, title, ...extra),
      h("div", { class: "body" }));
  }

  function fill(id, ...children) {
    const body = document.querySelector(`#${id} > .body`);
    if (body) replace(body, ...children);
  }

  /* ---------- formatting ---------- */

  const pad2 = (n) => String(n).padStart(2, "0");

  function formatTime(epoch) {
    if (epoch === undefined || epoch === null) return "—";
    const d = new Date(epoch * 1000);
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
      `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  function formatDuration(seconds) {
    if (seconds === undefined || seconds === null || !isFinite(seconds)) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
    return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  }

  function formatValue(value) {
    if (value === undefined || value === null) return "—";
    if (!isFinite(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(5)));
  }

  const span = (start, end, now) => (start ? (end || now) - start : undefined);

  /* ---------- charts ---------- */

  function niceStep(raw) {
    const power = 10 ** Math.floor(Math.log10(raw));
    const f = raw / power;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
  }

  function ticks(lo, hi, count, integer) {
    const step = integer ? Math.max(1, niceStep((hi - lo) / count)) : niceStep((hi - lo) / count);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Number(v.toPrecision(12)));
    }
    return { values: out, step };
  }

  const decimals = (step) => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));

  function extent(values, padFraction) {
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (lo === hi) {
      const d = Math.abs(lo) * 0.05 || 1;
      lo -= d;
      hi += d;
    }
    const pad = (hi - lo) * padFraction;
    return [lo - pad, hi + pad];
  }

  function marker(kind, x, y, color, attrs) {
    if (kind === "cross") {
      const r = 4.5;
      return svg("path", {
        ...attrs, class: `pt cross ${attrs.class || ""}`, stroke: color, "stroke-width": 2.2,
        d: `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`,
      });
    }
    return svg("circle", { ...attrs, class: `pt dot ${attrs.class || ""}`, cx: x, cy: y,
      r: kind === "ring" ? 6 : 3.6, fill: kind === "ring" ? "none" : color, stroke: color,
      "stroke-width": kind === "ring" ? 2 : 1 });
  }

  /**
   * One chart function for every chart in the console.
   * series: [{points: [{x, y, label, marker}], color, line: "none"|"straight"|"step",
   *           width, dash, job, marker: "dot"|"cross"|"ring"|"none", className}]
   * xInteger: the x axis counts (epochs), so its ticks are whole numbers.
   * The root <svg> carries data-points (markers and line vertices drawn) for tests and tools.
   */
  function chart({ series, xLabel, yLabel, xFormat, xInteger, width = 560, height = 260, xFrom }) {
    const m = { l: 58, r: 14, t: 12, b: 42 };
    const points = series.flatMap((s) => s.points);
    const root = svg("svg", {
      class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
      "data-points": points.length, "data-series": series.filter((s) => s.points.length).length,
      "aria-label": `${yLabel} by ${xLabel}`,
    });
    if (!points.length) {
      root.append(svg("text", { x: width / 2, y: height / 2, class: "empty" }, "No data yet"));
      return root;
    }
    let [x0, x1] = extent(points.map((p) => p.x), 0);
    if (xFrom !== undefined) x0 = Math.min(x0, xFrom);
    if (x0 === x1) x1 = x0 + 1;
    const [y0, y1] = extent(points.map((p) => p.y), 0.08);
    const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (width - m.l - m.r);
    const Y = (v) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
    const xt = ticks(x0, x1, 6, xInteger);
    const yt = ticks(y0, y1, 5);
    const fx = xFormat || ((v) => v.toFixed(decimals(xt.step)));
    const grid = svg("g", { class: "grid" });
    for (const v of yt.values) {
      grid.append(svg("line", { x1: m.l, x2: width - m.r, y1: Y(v), y2: Y(v) }),
        svg("text", { x: m.l - 6, y: Y(v) + 4, class: "tick y" }, v.toFixed(decimals(yt.step))));
    }
    for (const v of xt.values) {
      grid.append(svg("line", { class: "xtick", x1: X(v), x2: X(v), y1: height - m.b,
        y2: height - m.b + 4 }),
      svg("text", { x: X(v), y: height - m.b + 16, class: "tick x" }, fx(v)));
    }
    root.append(grid,
      svg("line", { class: "axis", x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b }),
      svg("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: height - m.b }),
      svg("text", { class: "label", x: (m.l + width - m.r) / 2, y: height - 6 }, xLabel),
      svg("text", { class: "label", transform: `translate(14 ${(m.t + height - m.b) / 2}) rotate(-90)` },
        yLabel));
    for (const s of series) root.append(drawSeries(s, X, Y));
    return root;
  }

  function drawSeries(s, X, Y) {
    const g = svg("g", { class: `series ${s.className || ""}`, "data-job": s.job });
    if (s.line && s.line !== "none" && s.points.length > 1) {
      const d = s.points.map((p, i) => {
        if (i === 0) return `M${X(p.x)},${Y(p.y)}`;
        return s.line === "step" ? `H${X(p.x)}V${Y(p.y)}` : `L${X(p.x)},${Y(p.y)}`;
      }).join("");
      g.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.6,
        "stroke-dasharray": s.dash, class: "line" }));
    }
    for (const p of s.points) {
      const kind = p.marker || s.marker || "none";
      if (kind === "none") continue;
      const mark = marker(kind, X(p.x), Y(p.y), p.color || s.color, { "data-job": p.job || s.job });
      if (p.label) mark.append(svg("title", {}, p.label));
      g.append(mark);
    }
    return g;
  }

  function legend(items) {
    return h("div", { class: "legend" }, items.map(([cls, color, text]) =>
      h("span", { class: "item" }, h("i", { class: cls, style: `--c:${color}` }), text)));
  }

  /* ---------- sortable table: one component for every table ---------- */

  function compare(a, b) {
    const empty = (v) => v === undefined || v === null || v === "";
    if (empty(a) || empty(b)) return empty(a) - empty(b);
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  /**
   * columns: [{key, label, value(row) (sort key), cell(row) (node or text), numeric}]
   * state: {key, dir} kept by the caller across refreshes; clicking a header re-renders.
   */
  function table(id, columns, rows, state, rowAttrs) {
    const wrap = h("div", { class: "table-wrap" });
    const render = () => wrap.replaceChildren(tableElement(id, columns, rows, state, rowAttrs, render));
    render();
    return wrap;
  }

  function tableElement(id, columns, rows, state, rowAttrs, render) {
    const column = columns.find((c) => c.key === state.key);
    const sorted = column ? [...rows].sort((a, b) =>
      compare(column.value(a), column.value(b)) * state.dir ||
      compare(columns[0].value(a), columns[0].value(b))) : rows;
    const head = columns.map((c) => {
      const active = c.key === state.key;
      return h("th", {
        class: `${c.numeric ? "num" : ""} ${c.value ? "sortable" : ""} ${active ? "sorted" : ""}`,
        "data-key": c.key,
        "aria-sort": active ? (state.dir > 0 ? "ascending" : "descending") : undefined,
        onclick: c.value ? () => {
          state.dir = state.key === c.key ? -state.dir : 1;
          state.key = c.key;
          render();
        } : undefined,
      }, c.label, active ? h("span", { class: "arrow" }, state.dir > 0 ? " ▲" : " ▼") : "");
    });
    const body = sorted.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {},
      columns.map((c) => h("td", { class: c.numeric ? "num" : "" }, c.cell(row)))));
    const element = h("table", { id, class: "grid-table" },
      h("thead", {}, h("tr", {}, head)), h("tbody", {}, body));
    if (!rows.length) {
      element.append(h("tfoot", {}, h("tr", {}, h("td", { colspan: columns.length,
        class: "muted" }, "Nothing here yet."))));
    }
    return element;
  }

  function keyValueTable(id, entries) {
    return h("table", { id, class: "kv" }, h("tbody", {}, entries.map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, v)))));
  }

  /* ---------- views ---------- */

  function objectiveOf(desc, summary) {
    const config = desc.HyperParameterTuningJobConfig || {};
    if (config.HyperParameterTuningJobObjective) return config.HyperParameterTuningJobObjective;
    const definitions = desc.TrainingJobDefinitions || [];
    const own = definitions.find((d) => summary &&
      d.DefinitionName === summary.TrainingJobDefinitionName) || definitions[0] || {};
    return own.TuningObjective || {};
  }

  const finalObjective = (job) => (job.FinalHyperParameterTuningJobObjectiveMetric || {}).Value;
  const failedCount = (c) => (c.NonRetryableError || 0) + (c.RetryableError || 0);

  function counterCards(desc) {
    const c = desc.TrainingJobStatusCounters || {};
    const o = desc.ObjectiveStatusCounters || {};
    const limit = (desc.HyperParameterTuningJobConfig || {}).ResourceLimits || {};
    const launched = (c.Completed || 0) + (c.InProgress || 0) + (c.Stopped || 0) + failedCount(c);
    const max = limit.MaxNumberOfTrainingJobs;
    const done = launched - (c.InProgress || 0);
    const card = (key, label, value) => h("div", { class: `counter c-${key}`, "data-counter": key },
      h("span", { class: "num" }, String(value)), h("span", { class: "what" }, label));
    return h("div", { class: "counters" },
      card("Launched", max ? `launched of ${max}` : "launched", launched),
      card("InProgress", "in progress", c.InProgress || 0),
      card("Completed", "completed", c.Completed || 0),
      card("Stopped", "stopped", c.Stopped || 0),
      card("Failed", "failed", failedCount(c)),
      card("Succeeded", "objective reported", o.Succeeded || 0),
      max ? h("div", { class: "progress", title: `${done} of ${max} finished` },
        h("div", { class: "bar", style: `width:${Math.min(100, (100 * done) / max)}%` })) : null);
  }

  /** The tuning jobs list. */
  function listView(ctx) {
    crumbs([["Tuning jobs"]]);
    const view = page(section("tuning-jobs", "Hyperparameter tuning jobs"));
    const details = new Map();
    ctx.sort = ctx.sort || { key: "created", dir: -1 };
    return async () => {
      const jobs = await listAll("ListHyperParameterTuningJobs",
        { SortBy: "CreationTime", SortOrder: "Descending", MaxResults: 100 },
        "HyperParameterTuningJobSummaries");
      await Promise.all(jobs.map(async (job) => {
        const name = job.HyperParameterTuningJobName;
        const known = details.get(name);
        if (!known || known.HyperParameterTuningJobStatus !== job.HyperParameterTuningJobStatus ||
          RUNNING.has(job.HyperParameterTuningJobStatus)) {
          details.set(name, await sagemaker("DescribeHyperParameterTuningJob",
            { HyperParameterTuningJobName: name }));
        }
      }));
      const now = Date.now() / 1000;
      const best = (job) => {
        const d = details.get(job.HyperParameterTuningJobName) || {};
        return finalObjective(d.BestTrainingJob || {});
      };
      const columns = [
        { key: "name", label: "Name", value: (j) => j.HyperParameterTuningJobName,
          cell: (j) => link(tuningHref(j.HyperParameterTuningJobName), j.HyperParameterTuningJobName) },
        { key: "status", label: "Status", value: (j) => j.HyperParameterTuningJobStatus,
          cell: (j) => badge(j.HyperParameterTuningJobStatus) },
        { key: "strategy", label: "Strategy", value: (j) => j.Strategy, cell: (j) => j.Strategy },
        { key: "jobs", label: "Training jobs", cell: (j) => counterChips(j.TrainingJobStatusCounters,
          (j.ResourceLimits || {}).MaxNumberOfTrainingJobs),
          value: (j) => sumCounters(j.TrainingJobStatusCounters) },
        { key: "best", label: "Best objective", numeric: true, value: best, cell: (j) => {
          const d = details.get(j.HyperParameterTuningJobName) || {};
          const objective = objectiveOf(d);
          return best(j) === undefined ? "—" : h("span", {}, formatValue(best(j)),
            h("span", { class: "muted small" }, ` ${objective.MetricName || ""}`));
        } },
        { key: "created", label: "Created", value: (j) => j.CreationTime,
          cell: (j) => formatTime(j.CreationTime) },
        { key: "duration", label: "Duration", numeric: true,
          value: (j) => span(j.CreationTime, j.HyperParameterTuningEndTime, now),
          cell: (j) => formatDuration(span(j.CreationTime, j.HyperParameterTuningEndTime, now)) },
      ];
      fill("tuning-jobs", table("tuning-jobs-table", columns, jobs, ctx.sort));
      view.dataset.count = jobs.length;
      return jobs.some((j) => RUNNING.has(j.HyperParameterTuningJobStatus)) ? POLL_MS : IDLE_POLL_MS;
    };
  }

  const sumCounters = (c) => Object.values(c || {}).reduce((a, b) => a + b, 0);

  function counterChips(c, max) {
    c = c || {};
    const chip = (cls, n, title) => (n ? h("span", { class: `chip ${cls}`, title }, String(n)) : null);
    return h("span", { class: "chips" },
      h("span", { class: "total" }, `${sumCounters(c)}${max ? ` / ${max}` : ""}`),
      chip("c-Completed", c.Completed, "completed"), chip("c-InProgress", c.InProgress, "in progress"),
      chip("c-Stopped", c.Stopped, "stopped"), chip("c-Failed", failedCount(c), "failed"));
  }

  /** One tuning job: status, counters, best job, charts and its training jobs. */
  function tuningView(ctx, name) {
    crumbs([["Tuning jobs", "#/"], [name]]);
    const view = page(
      h("div", { id: "summary", class: "headline" }),
      section("counters", "Training jobs"),
      h("div", { class: "row" }, section("best", "Best training job"), section("config", "Configuration")),
      h("div", { class: "row" },
        section("objective-chart", "Objective over time"), section("curves-chart", "Learning curves")),
      section("jobs", "Training jobs of this tuning job"));
    const curves = new Map();
    ctx.sort = ctx.sort || { key: "name", dir: 1 };
    return async () => {
      const [desc, jobs] = await Promise.all([
        sagemaker("DescribeHyperParameterTuningJob", { HyperParameterTuningJobName: name }),
        listAll("ListTrainingJobsForHyperParameterTuningJob",
          { HyperParameterTuningJobName: name, MaxResults: 100 }, "TrainingJobSummaries"),
      ]);
      await refreshCurves(desc, jobs, curves);
      const colors = jobColors(jobs);
      const status = desc.HyperParameterTuningJobStatus;
      view.dataset.status = status;
      renderSummary(desc);
      fill("counters", counterCards(desc));
      fill("best", bestJob(desc));
      fill("config", configTable(desc));
      fill("objective-chart", objectiveChart(desc, jobs));
      fill("curves-chart", curvesChart(desc, jobs, curves, colors));
      fill("jobs", jobsTable(desc, jobs, ctx, colors));
      return RUNNING.has(status) ? POLL_MS : null;
    };
  }

  function renderSummary(desc) {
    const now = Date.now() / 1000;
    const objective = objectiveOf(desc);
    const end = desc.HyperParameterTuningEndTime;
    replace(document.getElementById("summary"),
      h("h1", {}, desc.HyperParameterTuningJobName, " ", badge(desc.HyperParameterTuningJobStatus)),
      h("p", { class: "muted" },
        `${(desc.HyperParameterTuningJobConfig || {}).Strategy || ""} search · `,
        `${objective.Type || ""} ${objective.MetricName || ""} · created ${formatTime(desc.CreationTime)}`,
        ` · ${end ? "ran" : "running for"} ${formatDuration(span(desc.CreationTime, end, now))}`),
      desc.FailureReason ? h("p", { class: "failure" }, desc.FailureReason) : null);
  }

  function bestJob(desc) {
    const best = desc.BestTrainingJob;
    if (!best) return h("p", { class: "muted" }, desc.HyperParameterTuningEndTime
      ? "No training job reported the objective." : "No training job has reported the objective yet.");
    const metric = best.FinalHyperParameterTuningJobObjectiveMetric || {};
    const hp = Object.entries(best.TunedHyperParameters || {});
    return h("div", { class: "best" },
      h("div", { class: "best-value" }, h("span", { class: "num", id: "best-value" },
        formatValue(metric.Value)), h("span", { class: "muted" }, metric.MetricName || "")),
      h("p", {}, link(trainingHref(best.TrainingJobName), best.TrainingJobName), " ",
        badge(best.TrainingJobStatus)),
      keyValueTable("best-hyperparameters", hp.map(([k, v]) => [k, h("span", { title: v },
        shortValue(v))])));
  }

  function configTable(desc) {
    const config = desc.HyperParameterTuningJobConfig || {};
    const limits = config.ResourceLimits || {};
    const criteria = config.TuningJobCompletionCriteria || {};
    const rows = [
      ["Strategy", config.Strategy],
      ["Early stopping", config.TrainingJobEarlyStoppingType || "Off"],
      ["Max training jobs", limits.MaxNumberOfTrainingJobs],
      ["Max parallel jobs", limits.MaxParallelTrainingJobs],
      ["Max runtime", limits.MaxRuntimeInSeconds && formatDuration(limits.MaxRuntimeInSeconds)],
      ["Target objective", criteria.TargetObjectiveMetricValue],
      ["Warm start", desc.WarmStartConfig && `${desc.WarmStartConfig.WarmStartType} from ` +
        (desc.WarmStartConfig.ParentHyperParameterTuningJobs || [])
          .map((p) => p.HyperParameterTuningJobName).join(", ")],
      ["Random seed", config.RandomSeed],
    ].filter(([, v]) => v !== undefined && v !== null && v !== "");
    return keyValueTable("config-table", rows.map(([k, v]) => [k, String(v)]));
  }

  /** Fetch learning curves of jobs that are running or changed since their last fetch. */
  async function refreshCurves(desc, jobs, cache) {
    await Promise.all(jobs.map(async (job) => {
      const name = job.TrainingJobName;
      const known = cache.get(name);
      if (known && known.status === job.TrainingJobStatus && !RUNNING.has(job.TrainingJobStatus)) {
        return;
      }
      const metric = objectiveOf(desc, job).MetricName;
      try {
        const data = await emulator(seriesUrl(name));
        cache.set(name, { status: job.TrainingJobStatus,
          points: ((data.Metrics || {})[metric] || []).map((p) => ({ x: p.step, y: p.value })) });
      } catch (error) {
        cache.set(name, { status: "", points: (known || {}).points || [] });
      }
    }));
  }

  function jobColors(jobs) {
    const names = jobs.map((j) => j.TrainingJobName).sort();
    return new Map(names.map((n, i) => [n, PALETTE[i % PALETTE.length]]));
  }

  function objectiveChart(desc, jobs) {
    const objective = objectiveOf(desc);
    const better = objective.Type === "Minimize" ? Math.min : Math.max;
    const start = desc.CreationTime;
    const finished = jobs.filter((j) => finalObjective(j) !== undefined && j.TrainingEndTime)
      .sort((a, b) => a.TrainingEndTime - b.TrainingEndTime);
    const point = (j) => ({ x: j.TrainingEndTime - start, y: finalObjective(j), job: j.TrainingJobName,
      label: `${j.TrainingJobName}: ${formatValue(finalObjective(j))} (${j.TrainingJobStatus})` });
    const bestSoFar = [];
    for (const j of finished) {
      const prev = bestSoFar.length ? bestSoFar[bestSoFar.length - 1].y : finalObjective(j);
      bestSoFar.push({ x: j.TrainingEndTime - start, y: better(prev, finalObjective(j)) });
    }
    const now = Date.now() / 1000;
    if (bestSoFar.length) {
      const last = bestSoFar[bestSoFar.length - 1];
      const end = (desc.HyperParameterTuningEndTime || now) - start;
      if (end > last.x) bestSoFar.push({ x: end, y: last.y, marker: "none" });
    }
    const bestName = (desc.BestTrainingJob || {}).TrainingJobName;
    const bestPoints = finished.filter((j) => j.TrainingJobName === bestName).map(point);
    const figure = chart({
      xLabel: "time since the tuning job started", yLabel: objective.MetricName || "objective",
      xFormat: formatDuration, xFrom: 0,
      series: [
        { points: bestSoFar, color: BEST_COLOR, line: "step", width: 2, className: "best-so-far" },
        { points: finished.filter((j) => j.TrainingJobStatus !== "Stopped").map(point),
          color: PALETTE[0], marker: "dot", className: "completed" },
        { points: finished.filter((j) => j.TrainingJobStatus === "Stopped").map(point),
          color: STOPPED_COLOR, marker: "cross", className: "stopped" },
        { points: bestPoints, color: BEST_COLOR, marker: "ring", className: "best" },
      ],
    });
    figure.id = "objective-svg";
    return [figure, legend([["dot", PALETTE[0], "completed"], ["cross", STOPPED_COLOR, "stopped"],
      ["line", BEST_COLOR, "best so far"], ["ring", BEST_COLOR, "best job"]])];
  }

  function curvesChart(desc, jobs, curves, colors) {
    const bestName = (desc.BestTrainingJob || {}).TrainingJobName;
    const series = jobs.map((j) => {
      const points = (curves.get(j.TrainingJobName) || {}).points || [];
      const stopped = j.TrainingJobStatus === "Stopped";
      const tip = (p) => `${j.TrainingJobName} epoch ${p.x}: ${formatValue(p.y)}`;
      return {
        job: j.TrainingJobName, color: colors.get(j.TrainingJobName), line: "straight",
        width: j.TrainingJobName === bestName ? 3 : 1.6, dash: stopped ? "5 3" : undefined,
        className: `curve ${stopped ? "stopped" : ""} ${RUNNING.has(j.TrainingJobStatus) ? "running" : ""}`,
        points: points.map((p, i) => ({ ...p, label: tip(p),
          marker: i === points.length - 1 ? (stopped ? "cross" : "dot") : "none",
          color: stopped && i === points.length - 1 ? STOPPED_COLOR : undefined })),
      };
    });
    const figure = chart({ series, xLabel: "epoch", xInteger: true,
      yLabel: objectiveOf(desc).MetricName || "objective" });
    figure.id = "curves-svg";
    return [figure, legend([["line", PALETTE[0], "one line per training job"],
      ["line dashed", "#64748b", "stopped early"], ["cross", STOPPED_COLOR, "where it stopped"],
      ["line thick", PALETTE[0], "best job"]])];
  }

  function jobsTable(desc, jobs, ctx, colors) {
    const now = Date.now() / 1000;
    const tuned = [...new Set(jobs.flatMap((j) => Object.keys(j.TunedHyperParameters || {})))].sort();
    const asNumber = (v) => (v !== undefined && v !== "" && isFinite(Number(v)) ? Number(v) : v);
    const columns = [
      { key: "name", label: "Name", value: (j) => j.TrainingJobName, cell: (j) => h("span", {},
        h("i", { class: "swatch", style: `background:${colors.get(j.TrainingJobName)}` }),
        link(trainingHref(j.TrainingJobName), j.TrainingJobName)) },
      { key: "status", label: "Status", value: (j) => j.TrainingJobStatus,
        cell: (j) => badge(j.TrainingJobStatus) },
      { key: "objective", label: "Objective", numeric: true, value: finalObjective,
        cell: (j) => formatValue(finalObjective(j)) },
      { key: "start", label: "Start", value: (j) => j.TrainingStartTime,
        cell: (j) => formatTime(j.TrainingStartTime) },
      { key: "end", label: "End", value: (j) => j.TrainingEndTime,
        cell: (j) => formatTime(j.TrainingEndTime) },
      { key: "duration", label: "Duration", numeric: true,
        value: (j) => span(j.TrainingStartTime, j.TrainingEndTime, now),
        cell: (j) => formatDuration(span(j.TrainingStartTime, j.TrainingEndTime, now)) },
      ...tuned.map((k) => ({ key: `hp:${k}`, label: k, numeric: true,
        value: (j) => asNumber((j.TunedHyperParameters || {})[k]),
        cell: (j) => shortValue((j.TunedHyperParameters || {})[k]) })),
    ];
    const bestName = (desc.BestTrainingJob || {}).TrainingJobName;
    return table("jobs-table", columns, jobs, ctx.sort, (j) => ({
      "data-job": j.TrainingJobName,
      class: j.TrainingJobName === bestName ? "best-row" : undefined,
      onmouseenter: () => highlight(j.TrainingJobName, true),
      onmouseleave: () => highlight(j.TrainingJobName, false),
    }));
  }

  function shortValue(v) {
    if (v === undefined) return "—";
    const n = Number(v);
    return v !== "" && isFinite(n) ? formatValue(n) : v;
  }

  function highlight(job, on) {
    const chartSvg = document.getElementById("curves-svg");
    if (!chartSvg) return;
    chartSvg.classList.toggle("focus", on);
    for (const el of chartSvg.querySelectorAll(`g[data-job="${CSS.escape(job)}"]`)) {
      el.classList.toggle("hl", on);
    }
  }

  /** One training job: hyperparameters, status transitions, metrics, log tail. */
  function trainingView(ctx, name) {
    crumbs([["Tuning jobs", "#/"], [name]]);
    const view = page(
      h("div", { id: "summary", class: "headline" }),
      h("div", { class: "row" }, section("hyperparameters", "Hyperparameters"),
        section("details", "Details")),
      section("transitions", "Status transitions"),
      section("metrics", "Metrics"),
      section("log", "Log", h("span", { class: "muted small" }, " (last 200 lines)")));
    let parent;
    return async () => {
      const [desc, series, log] = await Promise.all([
        sagemaker("DescribeTrainingJob", { TrainingJobName: name }),
        emulator(seriesUrl(name)).catch(() => ({ Metrics: {} })),
        emulator(logsUrl(name, 200)).catch(() => ({ Lines: [] })),
      ]);
      if (desc.TuningJobArn && parent === undefined) {
        parent = await sagemaker("DescribeHyperParameterTuningJob", {
          HyperParameterTuningJobName: desc.TuningJobArn.split("/").pop(),
        }).then((d) => d.HyperParameterTuningJobName).catch(() => null);
        if (parent) crumbs([["Tuning jobs", "#/"], [parent, tuningHref(parent)], [name]]);
      }
      view.dataset.status = desc.TrainingJobStatus;
      renderTrainingSummary(desc);
      fill("hyperparameters", keyValueTable("hyperparameters-table",
        Object.entries(desc.HyperParameters || {}).sort().map(([k, v]) => [k, v])));
      fill("details", trainingDetails(desc, parent));
      fill("transitions", transitionsTable(desc));
      fill("metrics", metricsPanel(desc, series.Metrics || {}));
      fill("log", logTail(log.Lines || []));
      return RUNNING.has(desc.TrainingJobStatus) ? POLL_MS : null;
    };
  }

  function renderTrainingSummary(desc) {
    const now = Date.now() / 1000;
    replace(document.getElementById("summary"),
      h("h1", {}, desc.TrainingJobName, " ", badge(desc.TrainingJobStatus)),
      h("p", { class: "muted" }, `${desc.SecondaryStatus || ""} · created ${formatTime(desc.CreationTime)}`,
        ` · trained ${formatDuration(span(desc.TrainingStartTime, desc.TrainingEndTime, now))}`),
      desc.FailureReason ? h("p", { class: "failure" }, desc.FailureReason) : null);
  }

  function trainingDetails(desc, parent) {
    const resources = desc.ResourceConfig || {};
    const algorithm = desc.AlgorithmSpecification || {};
    return keyValueTable("details-table", [
      ["Tuning job", parent ? link(tuningHref(parent), parent) : "—"],
      ["Image", algorithm.TrainingImage || algorithm.AlgorithmName || "—"],
      ["Instances", `${resources.InstanceCount || 1} × ${resources.InstanceType || "?"}`],
      ["Started", formatTime(desc.TrainingStartTime)],
      ["Ended", formatTime(desc.TrainingEndTime)],
      ["Billable time", formatDuration(desc.BillableTimeInSeconds)],
      ["Output", (desc.ModelArtifacts || {}).S3ModelArtifacts || "—"],
    ]);
  }

  function transitionsTable(desc) {
    const rows = desc.SecondaryStatusTransitions || [];
    const now = Date.now() / 1000;
    return h("table", { id: "transitions-table", class: "grid-table" },
      h("thead", {}, h("tr", {}, ["Status", "Started", "Ended", "Took", "Message"].map((t) =>
        h("th", {}, t)))),
      h("tbody", {}, rows.map((t) => h("tr", {},
        h("td", {}, badge(t.Status)), h("td", {}, formatTime(t.StartTime)),
        h("td", {}, formatTime(t.EndTime)),
        h("td", { class: "num" }, formatDuration(span(t.StartTime, t.EndTime, now))),
        h("td", { class: "message" }, t.StatusMessage || "")))));
  }

  function metricsPanel(desc, series) {
    const finals = desc.FinalMetricDataList || [];
    const names = [...new Set([...finals.map((m) => m.MetricName), ...Object.keys(series)])].sort();
    if (!names.length) return h("p", { class: "muted" }, "No metrics reported yet.");
    const finalTable = h("table", { id: "final-metrics", class: "grid-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Metric"), h("th", { class: "num" }, "Final value"),
        h("th", {}, "Reported"))),
      h("tbody", {}, finals.map((m) => h("tr", {}, h("td", {}, m.MetricName),
        h("td", { class: "num" }, formatValue(m.Value)), h("td", {}, formatTime(m.Timestamp))))));
    const charts = names.map((n) => h("figure", { class: "small-chart" },
      chart({ width: 340, height: 190, xLabel: "epoch", xInteger: true, yLabel: "",
        series: [{ points: (series[n] || []).map((p) => ({ x: p.step, y: p.value,
          label: `epoch ${p.step}: ${formatValue(p.value)}` })),
        color: PALETTE[0], line: "straight", marker: "dot" }] }),
      h("figcaption", {}, n)));
    return [finalTable, h("div", { id: "metric-charts", class: "small-multiples" }, charts)];
  }

  function logTail(lines) {
    const pre = h("pre", { id: "log-tail" }, lines.length ? lines.join("\n") : "(no log lines yet)");
    requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; });
    return pre;
  }

  /* ---------- page frame and router ---------- */

  function crumbs(items) {
    replace(document.getElementById("crumbs"), items.map(([text, href], i) => [
      i ? h("span", { class: "sep" }, "›") : null,
      href ? link(href, text) : h("span", { class: "here" }, text),
    ]));
  }

  function page(...children) {
    const view = document.getElementById("view");
    replace(view, ...children);
    delete view.dataset.status;
    view.dataset.refreshes = "0";
    return view;
  }

  function showError(error) {
    let box = document.getElementById("error");
    if (!box) {
      box = h("div", { id: "error", class: "error" });
      document.getElementById("view").prepend(box);
    }
    box.textContent = `Could not load: ${error.message}`;
  }

  let current = { alive: false };

  /** Run a view's refresh now and again after the delay it returns, until it returns null. */
  async function poll(ctx, refresh) {
    const live = document.getElementById("live");
    const view = document.getElementById("view");
    while (ctx.alive) {
      let delay = POLL_MS;
      try {
        delay = await refresh();
        document.getElementById("error")?.remove();
        view.dataset.refreshes = String(Number(view.dataset.refreshes || 0) + 1);
      } catch (error) {
        if (ctx.alive) showError(error);
      }
      if (!ctx.alive) return;
      live.hidden = delay !== POLL_MS;
      if (delay === null || delay === undefined) return;
      await new Promise((resolve) => { ctx.timer = setTimeout(resolve, delay); });
    }
  }

  function route() {
    current.alive = false;
    clearTimeout(current.timer);
    const ctx = { alive: true };
    current = ctx;
    document.getElementById("live").hidden = true;
    const [, kind, raw] = (location.hash || "#/").match(/^#\/(\w+)?\/?(.*)$/) || [];
    const name = raw ? decodeURIComponent(raw) : "";
    const refresh = kind === "tuning" && name ? tuningView(ctx, name)
      : kind === "training" && name ? trainingView(ctx, name)
        : listView(ctx);
    document.title = name ? `${name} · amt-emulator` : "amt-emulator console";
    poll(ctx, refresh);
  }

  window.addEventListener("hashchange", route);
  route();
})();
