// The compliance overview for staff readers (authority, registry operator, supervisor): a year,
// its rates, every entity's status (sortable by shortfall, filtered by status), a grouped bar
// chart of allocation against verified emissions for the 20 largest emitters, and the entities
// per status. Charts are inline SVG drawn here; colours: allocation blue, emissions orange, and
// one colour per status used alike in the table and the charts (`.st-A` ... in app.css).
//
// The allocation charted is what each entity got of the vintages its obligation counts, net of
// true-ups (`GET /v1/compliance/status/{year}/allocations`, one set-based read).
// Before the close, a B's shortfall is what it lacks now (obligation - surrendered); after the
// close, the recorded one.

import { api, el, money, table, tonnes, toastError } from "./api.js";
import { extend, t } from "./i18n.js";

// Labels: [key, Chinese, English].
const LABELS = [
  ["cmp.year", "履约年度", "Compliance year"],
  ["cmp.period", "履约周期 {label}，清缴截止 {deadline}", "Period {label}, surrender deadline {deadline}"],
  ["cmp.closed", "已完成履约核定", "Closed: statuses recorded"],
  ["cmp.open", "履约进行中（实时评估）", "Open: evaluated now"],
  ["cmp.entities", "重点排放单位", "Entities"],
  ["cmp.compliant", "已履约单位", "Compliant (A)"],
  ["cmp.by_count", "履约率（按单位）", "Compliance rate (entities)"],
  ["cmp.obligation", "应清缴总量（吨）", "Obligation (t)"],
  ["cmp.covered", "已清缴总量（吨）", "Covered (t)"],
  ["cmp.by_volume", "履约率（按排放量）", "Compliance rate (volume)"],
  ["cmp.status_table", "各单位履约状态", "Status per entity"],
  ["cmp.filter", "状态筛选", "Status"],
  ["cmp.all", "全部", "All"],
  ["cmp.account", "单位", "Entity"],
  ["cmp.status", "状态", "Status"],
  ["cmp.obl", "应清缴量", "Obligation"],
  ["cmp.surrendered", "已清缴", "Surrendered"],
  ["cmp.offset", "CCER 抵销", "CCER offset"],
  ["cmp.offset_pending", "待确认抵销", "Offset pending"],
  ["cmp.borrowed", "预借配额", "Borrowed"],
  ["cmp.shortfall", "缺口", "Shortfall"],
  ["cmp.penalty", "罚款（元）", "Penalty (CNY)"],
  ["cmp.chart", "配额分配量与核查排放量（排放量前 20 名）", "Allocation and verified emissions (top 20 emitters)"],
  ["cmp.allocation", "分配配额", "Allocation"],
  ["cmp.emissions", "核查排放量", "Verified emissions"],
  ["cmp.per_status", "各履约状态单位数", "Entities per status"],
  ["cmp.tonnes", "吨", "t"],
  ["cmp.st.A", "A 已足额清缴", "A surrendered in full"],
  ["cmp.st.B", "B 未足额清缴", "B short"],
  ["cmp.st.C", "C 排放量未核定", "C emissions not entered"],
  ["cmp.st.EXCLUDED", "不纳入", "Excluded"],
];
extend({ zh: Object.fromEntries(LABELS.map(([k, zh]) => [k, zh])), en: Object.fromEntries(LABELS.map(([k, , en]) => [k, en])) });

const STATUSES = ["A", "B", "C", "EXCLUDED"];
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of [].concat(children)) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A round step for about `ticks` gridlines up to `max`: 1, 2 or 5 times a power of ten.
function niceStep(max, ticks = 5) {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

const compact = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));

function shortfall(row, closed) {
  return closed ? row.shortfall : Math.max(0, row.obligation - row.surrendered);
}

function legend(items) {
  return el(
    "div",
    { class: "legend-row", "data-testid": "chart-legend" },
    items.map(([cls, key]) => el("span", {}, [el("i", { class: `swatch ${cls}` }), t(key)])),
  );
}

function barsChart(rows) {
  const width = 960;
  const height = 340;
  const [left, right, top, bottom] = [72, 12, 14, rows.length > 10 ? 84 : 28];
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...rows.flatMap((r) => [r.allocation, r.obligation]));
  const step = niceStep(max);
  const ceiling = Math.ceil((max * 1.05) / step) * step; // headroom above the tallest bar
  const y = (v) => top + plotH - (Math.max(0, v) / ceiling) * plotH;
  const grid = [];
  for (let v = 0; v <= ceiling; v += step) {
    grid.push(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "gridline" }));
    grid.push(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, compact(v)));
  }
  const slot = plotW / Math.max(rows.length, 1);
  const bar = Math.min(28, slot * 0.36);
  const groups = rows.map((r, i) => {
    const cx = left + slot * i + slot / 2;
    const rect = (v, dx, cls, key) =>
      svg("rect", { x: cx + dx, y: y(v), width: bar, height: Math.max(0, top + plotH - y(v)), class: cls }, [
        svg("title", {}, `${r.account} · ${t(key)}: ${tonnes(v)} ${t("cmp.tonnes")}`),
      ]);
    // Many names: slanted, ending under their group.
    const slanted = rows.length > 10;
    const name = svg("text", { x: cx, y: top + plotH + 16, "text-anchor": slanted ? "end" : "middle", class: "tick" }, r.account);
    if (slanted) name.setAttribute("transform", `rotate(-35 ${cx} ${top + plotH + 16})`);
    const attrs = { "data-testid": "chart-group", "data-account": r.account };
    Object.assign(attrs, { "data-allocation": r.allocation, "data-emissions": r.obligation });
    return svg("g", attrs, [
      rect(r.allocation, -bar - 1, "bar-allocation", "cmp.allocation"),
      rect(r.obligation, 1, "bar-emissions", "cmp.emissions"),
      name,
    ]);
  });
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart-svg", role: "img", "data-testid": "alloc-chart" },
    [...grid, svg("line", { x1: left, x2: left, y1: top, y2: top + plotH, class: "axis" }), ...groups],
  );
}

function statusChart(counts) {
  const width = 360;
  const height = 220;
  const [left, top, bottom] = [20, 18, 40];
  const plotH = height - top - bottom;
  const max = Math.max(1, ...STATUSES.map((s) => counts[s]));
  const slot = (width - left * 2) / STATUSES.length;
  const bars = STATUSES.map((s, i) => {
    const h = (counts[s] / max) * plotH;
    const x = left + slot * i + slot * 0.2;
    return svg("g", { "data-testid": "status-bar", "data-status": s, "data-count": counts[s] }, [
      svg("rect", { x, y: top + plotH - h, width: slot * 0.6, height: h, class: `st-fill-${s}` }, [
        svg("title", {}, `${t(`cmp.st.${s}`)}: ${counts[s]}`),
      ]),
      svg("text", { x: x + slot * 0.3, y: top + plotH - h - 4, "text-anchor": "middle", class: "tick" }, counts[s]),
      svg("text", { x: x + slot * 0.3, y: height - bottom + 16, "text-anchor": "middle", class: "tick" }, s),
    ]);
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg small", "data-testid": "status-chart" }, bars);
}

function kpis(st) {
  const r = st.rates;
  const kpi = (value, key, id) =>
    el("div", { class: "kpi", "data-testid": `kpi-${id}` }, [el("b", {}, value), el("span", {}, t(key))]);
  return el("div", { class: "kpis" }, [
    kpi(tonnes(r.entities), "cmp.entities", "entities"),
    kpi(tonnes(r.compliant), "cmp.compliant", "compliant"),
    kpi(`${r.by_count_pct}%`, "cmp.by_count", "by-count"),
    kpi(tonnes(r.obligation), "cmp.obligation", "obligation"),
    kpi(tonnes(r.covered), "cmp.covered", "covered"),
    kpi(`${r.by_volume_pct}%`, "cmp.by_volume", "by-volume"),
  ]);
}

// The latest year before this one whose status has any obligation, else last year.
async function likelyYear(now) {
  const probes = [1, 2, 3, 4, 5, 6].map((back) =>
    api(`/v1/compliance/status/${now - back}/rates`).then(
      (r) => (r.obligation > 0 ? now - back : null),
      () => null,
    ),
  );
  return (await Promise.all(probes)).find((y) => y !== null) ?? now - 1;
}

async function render(root) {
  const now = new Date().getFullYear();
  const pick = el("select", { "data-testid": "year" });
  for (let y = now + 1; y >= now - 12; y -= 1) pick.append(el("option", { value: y }, String(y)));
  pick.value = String(await likelyYear(now));
  const filter = el("select", { "data-testid": "status-filter" });
  const head = el("div", { class: "muted", "data-testid": "period" });
  const kpiBox = el("div");
  const tableBox = el("div", { class: "scroll" });
  const chartBox = el("div", { "data-testid": "chart-box" });
  const statusBox = el("div");
  const state = { st: null, sortKey: "shortfall", dir: -1 };

  function drawTable() {
    const { st } = state;
    const shown = st.rows
      .filter((r) => !filter.value || r.status === filter.value)
      .map((r) => ({ ...r, gap: shortfall(r, st.closed) }))
      .sort((a, b) => {
        const key = state.sortKey === "shortfall" ? "gap" : state.sortKey;
        return state.dir * (typeof a[key] === "number" ? a[key] - b[key] : String(a[key]).localeCompare(b[key]));
      });
    const columns = [
      ["cmp.account", (r) => r.account, "", "account"],
      ["cmp.status", (r) => el("span", { class: `pill st-${r.status}`, title: t(`cmp.st.${r.status}`) }, r.status), "", "status"],
      ["cmp.obl", (r) => tonnes(r.obligation), "num", "obligation"],
      ["cmp.surrendered", (r) => tonnes(r.surrendered), "num", "surrendered"],
      ["cmp.offset", (r) => tonnes(r.offset), "num", "offset"],
      ["cmp.offset_pending", (r) => tonnes(r.offset_pending), "num", "offset_pending"],
      ["cmp.borrowed", (r) => tonnes(r.borrowed), "num", "borrowed"],
      ["cmp.shortfall", (r) => tonnes(r.gap), "num", "shortfall"],
      ["cmp.penalty", (r) => money(r.penalty), "num", "penalty"],
    ];
    const grid = table(columns, shown, t, { "data-testid": "status-table" });
    grid.querySelectorAll("thead th").forEach((th, i) => {
      const key = columns[i][3];
      th.classList.add("sortable");
      th.dataset.sort = key;
      if (key === state.sortKey) th.classList.add(state.dir < 0 ? "desc" : "asc");
      th.addEventListener("click", () => {
        state.dir = key === state.sortKey ? -state.dir : -1;
        state.sortKey = key;
        drawTable();
      });
    });
    grid.querySelectorAll("tbody tr").forEach((tr, i) => shown[i] && (tr.dataset.account = shown[i].account));
    tableBox.replaceChildren(grid);
  }

  async function drawCharts(st, year) {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, st.rows.filter((r) => r.status === s).length]));
    statusBox.replaceChildren(
      statusChart(counts),
      legend(STATUSES.map((s) => [`st-fill-${s}`, `cmp.st.${s}`])),
    );
    const top = [...st.rows]
      .filter((r) => r.status !== "EXCLUDED")
      .sort((a, b) => b.obligation - a.obligation)
      .slice(0, 20);
    chartBox.replaceChildren(el("p", { class: "muted" }, t("common.loading")));
    // One read: what each entity was allocated of the vintages its obligation counts.
    const { allocations } = await api(`/v1/compliance/status/${year}/allocations`);
    if (state.st !== st) return; // another year was chosen meanwhile
    const rows = top.map((r) => ({ ...r, allocation: allocations[r.account] || 0 }));
    chartBox.replaceChildren(
      rows.length ? barsChart(rows) : el("p", { class: "muted" }, t("common.none")),
      legend([
        ["bar-allocation", "cmp.allocation"],
        ["bar-emissions", "cmp.emissions"],
      ]),
    );
  }

  async function load() {
    try {
      const year = pick.value;
      const st = await api(`/v1/compliance/status/${year}`);
      state.st = st;
      const label = st.label === st.period ? st.label : `${st.period} · ${st.label}`;
      head.textContent = `${t("cmp.period", { label, deadline: st.deadline })} · ${t(st.closed ? "cmp.closed" : "cmp.open")}`;
      kpiBox.replaceChildren(kpis(st));
      const chosen = filter.value;
      filter.replaceChildren(
        el("option", { value: "" }, `${t("cmp.all")} (${st.rows.length})`),
        ...STATUSES.map((s) =>
          el("option", { value: s }, `${t(`cmp.st.${s}`)} (${st.rows.filter((r) => r.status === s).length})`),
        ),
      );
      filter.value = chosen;
      drawTable();
      await drawCharts(st, year);
    } catch (error) {
      toastError(error);
    }
  }

  pick.addEventListener("change", load);
  filter.addEventListener("change", drawTable);
  root.replaceChildren(
    el("div", { class: "grid ops-compliance", "data-testid": "compliance-view" }, [
      el("div", { class: "card bar" }, [el("label", { class: "inline" }, [t("cmp.year"), pick]), head]),
      el("section", { class: "card wide" }, kpiBox),
      el("section", { class: "card wide" }, [el("h3", {}, t("cmp.chart")), chartBox]),
      el("section", { class: "card" }, [
        el("div", { class: "card-head" }, [
          el("h3", {}, t("cmp.status_table")),
          el("label", { class: "inline" }, [t("cmp.filter"), filter]),
        ]),
        tableBox,
      ]),
      el("section", { class: "card" }, [el("h3", {}, t("cmp.per_status")), statusBox]),
    ]),
  );
  await load();
}

export const view = {
  id: "compliance",
  label: "nav.compliance",
  roles: ["authority", "registry_operator", "supervisor"],
  render,
};
