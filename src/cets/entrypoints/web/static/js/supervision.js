// Market supervision, the supervisor's alone: the alerts (filtered by state, type, severity and
// account), one alert with its explanation, the orders and trades that prove it and what was done
// about it, the workflow (investigate, take a measure, close with a resolution), the batch scan
// over trading days, and the large-holder reports.
//
// The API filters alerts by state, type, days and account; severity is filtered here.

import { api, clientId, el, money, table, toast, toastError, tonnes } from "./api.js";
import { extend, t } from "./i18n.js";

const TYPES = ["wash_trade", "self_trade_attempts", "spoofing", "marking_the_close", "price_spike", "concentration", "large_holder"];
const STATES = ["open", "investigating", "closed"];
const SEVERITIES = ["high", "medium", "low"];
const MEASURES = ["risk_warning_letter", "restrict_account", "freeze", "report_to_authority"];
const RESOLUTIONS = ["no_violation", "warning_issued", "measures_taken", "referred_to_authority"];

// Labels: [key, Chinese, English].
const LABELS = [
  ["sup.alerts", "异常交易预警", "Alerts"],
  ["sup.state", "处理状态", "State"],
  ["sup.type", "预警类型", "Type"],
  ["sup.severity", "风险等级", "Severity"],
  ["sup.account", "账户", "Account"],
  ["sup.all", "全部", "All"],
  ["sup.id", "编号", "Id"],
  ["sup.instrument", "品种", "Instrument"],
  ["sup.day", "交易日", "Day"],
  ["sup.accounts", "涉及账户", "Accounts"],
  ["sup.detected_at", "发现时间", "Detected"],
  ["sup.updated_at", "更新时间", "Updated"],
  ["sup.resolution", "处理结论", "Resolution"],
  ["sup.pick", "点击左侧预警查看详情", "Click an alert to see it"],
  ["sup.explanation", "预警说明", "Explanation"],
  ["sup.orders", "相关委托", "Orders"],
  ["sup.trades", "相关成交", "Trades"],
  ["sup.history", "处理记录", "History"],
  ["sup.side", "方向", "Side"],
  ["sup.mode", "交易方式", "Mode"],
  ["sup.price", "价格（元/吨）", "Price (CNY/t)"],
  ["sup.quantity", "数量（吨）", "Quantity (t)"],
  ["sup.filled", "已成交", "Filled"],
  ["sup.remaining", "未成交", "Remaining"],
  ["sup.status", "委托状态", "Status"],
  ["sup.reason", "原因", "Reason"],
  ["sup.buyer", "买方", "Buyer"],
  ["sup.seller", "卖方", "Seller"],
  ["sup.buy_order", "买方委托", "Buy order"],
  ["sup.sell_order", "卖方委托", "Sell order"],
  ["sup.at", "时间", "Time"],
  ["sup.action", "动作", "Action"],
  ["sup.measure", "监管措施", "Measure"],
  ["sup.text", "内容", "Text"],
  ["sup.actor", "操作人", "By"],
  ["sup.note", "备注", "Note"],
  ["sup.investigate", "立案调查", "Investigate"],
  ["sup.take_measure", "采取措施", "Take measure"],
  ["sup.close", "结案", "Close"],
  ["sup.done", "已办理：{id}", "Done: {id}"],
  ["sup.scan", "批量扫描", "Batch scan"],
  ["sup.from", "起始交易日", "First trading day"],
  ["sup.to", "截止交易日", "Last trading day"],
  ["sup.run_scan", "开始扫描", "Scan"],
  ["sup.scanned", "扫描完成：新增预警 {raised} 条，更新 {updated} 条，大户报告 {reports} 份", "Scan done: {raised} alerts raised, {updated} updated, {reports} large-holder reports"],
  ["sup.large", "大户持仓报告", "Large-holder reports"],
  ["sup.holder", "持有人", "Holder"],
  ["sup.position", "持仓（吨）", "Position (t)"],
  ["sup.threshold", "报告线（吨）", "Threshold (t)"],
  ["sup.limit", "持仓限额（吨）", "Limit (t)"],
  ["sup.crossed_at", "触及时间", "Crossed at"],
  ["sup.alert", "预警", "Alert"],
  ["sup.days", "逐日持仓", "Daily positions"],
  ["sup.action.raised", "生成", "raised"],
  ["sup.action.updated", "证据更新", "evidence grew"],
  ["sup.action.investigate", "立案调查", "investigation"],
  ["sup.action.measure", "采取措施", "measure"],
  ["sup.action.close", "结案", "closed"],
  ["sup.state.open", "待处理", "open"],
  ["sup.state.investigating", "调查中", "investigating"],
  ["sup.state.closed", "已结案", "closed"],
  ["sup.sev.high", "高", "high"],
  ["sup.sev.medium", "中", "medium"],
  ["sup.sev.low", "低", "low"],
  ["sup.type.wash_trade", "对倒交易", "Wash trade"],
  ["sup.type.self_trade_attempts", "自成交尝试", "Self-trade attempts"],
  ["sup.type.spoofing", "虚假申报（幌骗）", "Spoofing"],
  ["sup.type.marking_the_close", "操纵收盘价", "Marking the close"],
  ["sup.type.price_spike", "价格异常波动", "Price spike"],
  ["sup.type.concentration", "交易/持仓集中", "Concentration"],
  ["sup.type.large_holder", "大户持仓", "Large holder"],
  ["sup.measure.risk_warning_letter", "风险警示函", "Risk warning letter"],
  ["sup.measure.restrict_account", "限制账户", "Restrict account"],
  ["sup.measure.freeze", "冻结账户", "Freeze account"],
  ["sup.measure.report_to_authority", "报告主管部门", "Report to the authority"],
  ["sup.res.no_violation", "未发现违规", "No violation"],
  ["sup.res.warning_issued", "已发出风险警示", "Warning issued"],
  ["sup.res.measures_taken", "已采取监管措施", "Measures taken"],
  ["sup.res.referred_to_authority", "移交主管部门", "Referred to the authority"],
  ["sup.side.buy", "买入", "buy"],
  ["sup.side.sell", "卖出", "sell"],
  ["sup.mode.listed", "挂牌协议", "listed"],
  ["sup.mode.block", "大宗协议", "block"],
  ["sup.order.open", "已报", "open"],
  ["sup.order.partially_filled", "部分成交", "partially filled"],
  ["sup.order.filled", "全部成交", "filled"],
  ["sup.order.cancelled", "已撤", "cancelled"],
  ["sup.order.expired", "已过期", "expired"],
  ["sup.order.rejected", "废单", "rejected"],
];
extend({ zh: Object.fromEntries(LABELS.map(([k, zh]) => [k, zh])), en: Object.fromEntries(LABELS.map(([k, , en]) => [k, en])) });

const short = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "");
const field = (key, input) => el("label", {}, [t(key), input]);
const pill = (cls, text) => el("span", { class: `pill ${cls}` }, text);

function choices(values, prefix, attrs, all = true) {
  const options = values.map((v) => el("option", { value: v }, t(`${prefix}.${v}`)));
  return el("select", attrs, all ? [el("option", { value: "" }, t("sup.all")), ...options] : options);
}

function evidence(detail) {
  const orders = table(
    [
      ["sup.id", (o) => o.id],
      ["sup.account", (o) => o.account],
      ["sup.side", (o) => el("span", { class: o.side === "buy" ? "up" : "down" }, t(`sup.side.${o.side}`))],
      ["sup.mode", (o) => t(`sup.mode.${o.mode}`)],
      ["sup.price", (o) => money(o.price), "num"],
      ["sup.quantity", (o) => tonnes(o.quantity), "num"],
      ["sup.filled", (o) => tonnes(o.filled), "num"],
      ["sup.remaining", (o) => tonnes(o.remaining), "num"],
      ["sup.status", (o) => t(`sup.order.${o.status}`)],
      ["sup.reason", (o) => o.reason || ""],
    ],
    detail.orders,
    t,
    { "data-testid": "evidence-orders" },
  );
  const trades = table(
    [
      ["sup.id", (x) => x.id],
      ["sup.at", (x) => short(x.at)],
      ["sup.instrument", (x) => x.instrument],
      ["sup.mode", (x) => t(`sup.mode.${x.mode}`)],
      ["sup.buyer", (x) => x.buyer],
      ["sup.seller", (x) => x.seller],
      ["sup.price", (x) => money(x.price), "num"],
      ["sup.quantity", (x) => tonnes(x.quantity), "num"],
      ["sup.buy_order", (x) => x.buy_order],
      ["sup.sell_order", (x) => x.sell_order],
    ],
    detail.trades,
    t,
    { "data-testid": "evidence-trades" },
  );
  return [el("h4", {}, t("sup.orders")), orders, el("h4", {}, t("sup.trades")), trades];
}

function historyTable(history) {
  return table(
    [
      ["sup.at", (x) => short(x.at)],
      ["sup.action", (x) => t(`sup.action.${x.action}`)],
      ["sup.state", (x) => pill(x.state, t(`sup.state.${x.state}`))],
      ["sup.measure", (x) => (x.measure ? t(`sup.measure.${x.measure}`) : "")],
      ["sup.account", (x) => x.account || ""],
      ["sup.text", (x) => x.text || "", "wrap"],
      ["sup.actor", (x) => x.actor],
    ],
    history,
    t,
    { "data-testid": "alert-history" },
  );
}

// The three workflow steps, each enabled only where the alert's state allows it.
function workflow(alert, act) {
  const closed = alert.state === "closed";
  const note = el("textarea", { rows: 2, "data-testid": "investigate-note" });
  const investigate = el("button", { disabled: alert.state !== "open", "data-testid": "investigate" }, t("sup.investigate"));
  investigate.addEventListener("click", () =>
    act("investigate", { id: clientId("inv"), note: note.value.trim() || undefined }),
  );
  const measure = choices(MEASURES, "sup.measure", { "data-testid": "measure-kind" }, false);
  const account = el("select", { "data-testid": "measure-account" }, alert.accounts.map((a) => el("option", { value: a }, a)));
  const text = el("textarea", { rows: 2, "data-testid": "measure-text" });
  const take = el("button", { disabled: closed, "data-testid": "take-measure" }, t("sup.take_measure"));
  take.addEventListener("click", () =>
    act("measures", {
      id: clientId("msr"),
      measure: measure.value,
      account: account.value || undefined,
      text: text.value.trim() || undefined,
    }),
  );
  const resolution = choices(RESOLUTIONS, "sup.res", { "data-testid": "close-resolution" }, false);
  const closeNote = el("textarea", { rows: 2, "data-testid": "close-note" });
  const close = el("button", { disabled: closed, "data-testid": "close-alert" }, t("sup.close"));
  close.addEventListener("click", () =>
    act("close", { id: clientId("cls"), resolution: resolution.value, note: closeNote.value.trim() || undefined }),
  );
  return el("div", { class: "workflow" }, [
    el("div", { class: "step" }, [field("sup.note", note), investigate]),
    el("div", { class: "step" }, [field("sup.measure", measure), field("sup.account", account), field("sup.text", text), take]),
    el("div", { class: "step" }, [field("sup.resolution", resolution), field("sup.note", closeNote), close]),
  ]);
}

async function render(root) {
  const filters = {
    state: choices(STATES, "sup.state", { "data-testid": "filter-state" }),
    type: choices(TYPES, "sup.type", { "data-testid": "filter-type" }),
    severity: choices(SEVERITIES, "sup.sev", { "data-testid": "filter-severity" }),
    account: el("input", { "data-testid": "filter-account", autocomplete: "off", size: 8 }),
  };
  const listBox = el("div", { class: "scroll" });
  const detailBox = el("div", { "data-testid": "alert-detail" }, el("p", { class: "muted" }, t("sup.pick")));
  const largeBox = el("div", { class: "scroll" });
  let selected = null;

  async function loadList() {
    try {
      const params = { state: filters.state.value, type: filters.type.value, account: filters.account.value.trim(), limit: 1000 };
      const page = await api("/v1/supervision/alerts", { params });
      const shown = page.items.filter((a) => !filters.severity.value || a.severity === filters.severity.value).reverse();
      const grid = table(
        [
          ["sup.id", (a) => a.id],
          ["sup.type", (a) => t(`sup.type.${a.type}`)],
          ["sup.severity", (a) => pill(a.severity, t(`sup.sev.${a.severity}`))],
          ["sup.state", (a) => pill(a.state, t(`sup.state.${a.state}`))],
          ["sup.day", (a) => a.day || ""],
          ["sup.accounts", (a) => a.accounts.join(", ")],
        ],
        shown,
        t,
        { "data-testid": "alerts" },
      );
      grid.querySelectorAll("tbody tr").forEach((tr, i) => {
        if (!shown[i]) return;
        Object.assign(tr.dataset, { alert: shown[i].id, state: shown[i].state });
        tr.classList.add("click");
        tr.classList.toggle("selected", shown[i].id === selected);
        tr.addEventListener("click", () => openAlert(shown[i].id));
      });
      listBox.replaceChildren(grid);
    } catch (error) {
      toastError(error);
    }
  }

  async function act(step, body) {
    try {
      const answer = await api(`/v1/supervision/alerts/${selected}/${step}`, { method: "POST", body });
      toast(t("sup.done", { id: answer.id }), "ok");
    } catch (error) {
      toastError(error);
    }
    await Promise.all([openAlert(selected), loadList()]);
  }

  async function openAlert(id) {
    selected = id;
    listBox.querySelectorAll("tr[data-alert]").forEach((tr) => tr.classList.toggle("selected", tr.dataset.alert === id));
    try {
      const detail = await api(`/v1/supervision/alerts/${id}`);
      const a = detail.alert;
      detailBox.replaceChildren(
        el("div", { class: "card-head" }, [
          el("h3", {}, `${a.id} · ${t(`sup.type.${a.type}`)}`),
          pill(a.severity, t(`sup.sev.${a.severity}`)),
          el("span", { class: `pill ${a.state}`, "data-testid": "alert-state", "data-state": a.state }, t(`sup.state.${a.state}`)),
          a.resolution ? pill("", t(`sup.res.${a.resolution}`)) : null,
        ]),
        el("p", { class: "explanation", "data-testid": "alert-explanation" }, a.explanation),
        el("dl", { class: "facts" }, [
          el("dt", {}, t("sup.instrument")),
          el("dd", {}, a.instrument || "—"),
          el("dt", {}, t("sup.day")),
          el("dd", {}, a.day || "—"),
          el("dt", {}, t("sup.accounts")),
          el("dd", { "data-testid": "alert-accounts" }, a.accounts.map((x) => pill("", x))),
          el("dt", {}, t("sup.detected_at")),
          el("dd", {}, short(a.detected_at)),
          el("dt", {}, t("sup.updated_at")),
          el("dd", {}, short(a.updated_at)),
        ]),
        workflow(a, act),
        ...evidence(detail),
        el("h4", {}, t("sup.history")),
        historyTable(detail.history),
      );
    } catch (error) {
      toastError(error);
    }
  }

  async function loadLarge() {
    try {
      const found = await api("/v1/supervision/large-holders");
      const alertLink = (r) => el("button", { type: "button", class: "small ghost", onclick: () => openAlert(r.alert) }, r.alert);
      largeBox.replaceChildren(
        table(
          [
            ["sup.id", (r) => r.id],
            ["sup.holder", (r) => r.holder],
            ["sup.instrument", (r) => r.asset],
            ["sup.position", (r) => tonnes(r.position), "num"],
            ["sup.threshold", (r) => tonnes(r.threshold), "num"],
            ["sup.limit", (r) => tonnes(r.limit), "num"],
            ["sup.crossed_at", (r) => short(r.crossed_at)],
            ["sup.days", (r) => r.history.map((d) => `${d.day}: ${tonnes(d.position)}`).join(" · "), "wrap"],
            ["sup.alert", alertLink],
          ],
          found.items,
          t,
          { "data-testid": "large-holders" },
        ),
      );
    } catch (error) {
      toastError(error);
    }
  }

  const first = el("input", { type: "date", "data-testid": "scan-from" });
  const last = el("input", { type: "date", "data-testid": "scan-to" });
  const scan = el("form", { class: "form-grid", "data-testid": "scan-form" }, [
    field("sup.from", first),
    field("sup.to", last),
    el("button", { type: "submit", "data-testid": "scan-submit" }, t("sup.run_scan")),
  ]);
  scan.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if (first.value) body.from = first.value;
    if (last.value) body.to = last.value;
    try {
      const found = await api("/v1/supervision/scan", { method: "POST", body });
      const counts = { raised: found.raised.length, updated: found.updated.length, reports: found.reports.length };
      toast(t("sup.scanned", counts), "ok");
    } catch (error) {
      toastError(error);
    }
    await Promise.all([loadList(), loadLarge()]);
  });

  for (const input of Object.values(filters)) input.addEventListener("change", loadList);
  root.replaceChildren(
    el("div", { class: "grid ops-supervision", "data-testid": "supervision-view" }, [
      el("div", { class: "ops-col" }, [
        el("section", { class: "card" }, [
          el("h3", {}, t("sup.alerts")),
          el("div", { class: "filters" }, [
            field("sup.state", filters.state),
            field("sup.type", filters.type),
            field("sup.severity", filters.severity),
            field("sup.account", filters.account),
          ]),
          listBox,
        ]),
        el("section", { class: "card" }, [el("h3", {}, t("sup.scan")), scan]),
        el("section", { class: "card" }, [el("h3", {}, t("sup.large")), largeBox]),
      ]),
      el("section", { class: "card" }, detailBox),
    ]),
  );
  await Promise.all([loadList(), loadLarge()]);
}

export const view = { id: "supervision", label: "nav.supervision", roles: ["supervisor"], render };
