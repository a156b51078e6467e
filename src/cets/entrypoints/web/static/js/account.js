// A holder's operator: its holdings per asset and its funds, a day's statement, the transfer
// history of one asset, a transfer (with the operator permission `transfer`) and, for a key
// emitter, a surrender for a compliance year beside its own compliance status.
// Tonnes are integers; yuan arrive as decimal text (`money`), and a history line of CNY counts
// fen, written out here digit by digit, never through a float.

import { api, clientId, el, money, table, toast, toastError, tonnes } from "./api.js";
import { extend, t } from "./i18n.js";

// Labels: [key, Chinese, English].
const LABELS = [
  ["acct.holder", "账户", "Account"],
  ["acct.positions", "配额持仓", "Holdings"],
  ["acct.asset", "品种", "Asset"],
  ["acct.total", "总量（吨）", "Total (t)"],
  ["acct.available", "可用", "Available"],
  ["acct.frozen", "冻结", "Frozen"],
  ["acct.pledged", "质押", "Pledged"],
  ["acct.in_orders", "委托占用", "In orders"],
  ["acct.bought", "待交收买入", "Bought, to deliver"],
  ["acct.sold", "待交收卖出", "Sold, to deliver"],
  ["acct.funds", "资金（元）", "Funds (CNY)"],
  ["acct.funds_total", "资金总额", "Total funds"],
  ["acct.funds_available", "可用资金", "Available funds"],
  ["acct.funds_in_orders", "委托冻结资金", "Held by orders"],
  ["acct.no_funds", "未开立资金账户", "No fund account"],
  ["acct.history", "变动明细", "History"],
  ["acct.at", "时间", "Time"],
  ["acct.code", "业务类型", "Operation"],
  ["acct.posted", "入账", "Posted"],
  ["acct.held", "冻结/占用变动", "Held change"],
  ["acct.counterparty", "对方账户", "Counterparty"],
  ["acct.ref", "业务编号", "Reference"],
  ["acct.statement", "日终对账单", "End-of-day statement"],
  ["acct.date", "日期", "Date"],
  ["acct.encumbered", "受限数量", "Encumbered"],
  ["acct.show", "查询", "Show"],
  ["acct.transfer", "配额划转", "Transfer"],
  ["acct.to", "转入账户", "To account"],
  ["acct.quantity", "数量（吨）", "Quantity (t)"],
  ["acct.submit_transfer", "提交划转", "Transfer"],
  ["acct.surrender", "配额清缴", "Surrender"],
  ["acct.year", "履约年度", "Compliance year"],
  ["acct.submit_surrender", "提交清缴", "Surrender"],
  ["acct.compliance", "本单位履约状态", "Our compliance status"],
  ["acct.obligation", "应清缴量（核查排放量）", "Obligation (verified emissions)"],
  ["acct.surrendered", "已清缴", "Surrendered"],
  ["acct.offset", "CCER 抵销", "CCER offset"],
  ["acct.offset_pending", "待确认抵销", "Offset pending"],
  ["acct.status", "状态", "Status"],
  ["acct.no_holder", "当前用户未关联任何账户。", "You operate no account."],
  ["acct.accepted", "已受理：{id}", "Accepted: {id}"],
  ["acct.pending_approval", "已提交，等待第二人复核：{id}", "Submitted, waiting for a second person: {id}"],
  ["acct.surrender_state", "清缴 {id}：{state}", "Surrender {id}: {state}"],
  ["acct.bad_quantity", "数量须为正整数（吨）", "The quantity must be a whole number of tonnes, at least 1"],
  ["acct.code.issue", "签发", "issue"],
  ["acct.code.allocate", "分配", "allocation"],
  ["acct.code.true_up", "分配调整", "true-up"],
  ["acct.code.transfer", "划转", "transfer"],
  ["acct.code.freeze", "冻结", "freeze"],
  ["acct.code.unfreeze", "解冻", "unfreeze"],
  ["acct.code.deduct", "司法扣划", "deduction"],
  ["acct.code.pledge", "质押", "pledge"],
  ["acct.code.release", "解押", "release"],
  ["acct.code.enforce", "质权实现", "enforcement"],
  ["acct.code.cancel", "自愿注销", "cancellation"],
  ["acct.code.surrender", "清缴", "surrender"],
  ["acct.code.deposit", "入金", "deposit"],
  ["acct.code.withdraw", "出金", "withdrawal"],
  ["acct.code.order", "委托", "order"],
  ["acct.code.trade", "成交交收", "trade"],
  ["acct.code.fee", "手续费", "fee"],
  ["acct.code.correction", "更正", "correction"],
  ["acct.code.offset", "CCER 抵销", "offset"],
  ["acct.hstate.normal", "正常", "normal"],
  ["acct.hstate.restricted", "受限", "restricted"],
  ["acct.hstate.frozen", "冻结", "frozen"],
  ["acct.hstate.closure_pending", "销户中", "closure pending"],
  ["acct.hstate.closed", "已销户", "closed"],
  ["acct.state.used", "已生效", "in effect"],
  ["acct.state.pending", "待主管部门确认", "pending the authority"],
  ["acct.state.pending_approval", "待复核", "awaiting approval"],
];
extend({ zh: Object.fromEntries(LABELS.map(([k, zh]) => [k, zh])), en: Object.fromEntries(LABELS.map(([k, , en]) => [k, en])) });

const field = (key, input) => el("label", {}, [t(key), input]);
const short = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "");

// Fen (an integer) as yuan text: 123456 -> "1234.56", by digits.
function yuanOfFen(fen) {
  const digits = String(Math.abs(fen)).padStart(3, "0");
  return `${fen < 0 ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

// A whole number of tonnes from a text box, or null (no "1e3", no "12.0").
function wholeTonnes(text, { signed = false } = {}) {
  const value = String(text).trim();
  if (!(signed ? /^-?[0-9]{1,15}$/ : /^[0-9]{1,15}$/).test(value)) return null;
  return Number(value);
}

function positionsCard(found) {
  const undelivered = found.undelivered || {};
  const assets = [...new Set([...Object.keys(found.holdings), ...Object.keys(undelivered)])].sort();
  const zero = { total: 0, available: 0, frozen: 0, pledged: 0, in_orders: 0 };
  const rows = assets.map((asset) => ({
    asset,
    ...(found.holdings[asset] || zero),
    u: undelivered[asset] || { bought: 0, sold: 0 },
  }));
  const holdings = table(
    [
      ["acct.asset", (r) => r.asset],
      ["acct.total", (r) => tonnes(r.total), "num"],
      ["acct.available", (r) => tonnes(r.available), "num"],
      ["acct.frozen", (r) => tonnes(r.frozen), "num"],
      ["acct.pledged", (r) => tonnes(r.pledged), "num"],
      ["acct.in_orders", (r) => tonnes(r.in_orders), "num"],
      ["acct.bought", (r) => tonnes(r.u.bought), "num"],
      ["acct.sold", (r) => tonnes(r.u.sold), "num"],
    ],
    rows,
    t,
    { "data-testid": "positions" },
  );
  const f = found.funds;
  const funds = f
    ? el("div", { class: "kpis", "data-testid": "funds" }, [
        el("div", { class: "kpi" }, [el("b", {}, money(f.total)), el("span", {}, t("acct.funds_total"))]),
        el("div", { class: "kpi" }, [
          el("b", {}, money(f.available)),
          el("span", {}, t("acct.funds_available")),
        ]),
        el("div", { class: "kpi" }, [
          el("b", {}, money(f.in_orders)),
          el("span", {}, t("acct.funds_in_orders")),
        ]),
      ])
    : el("p", { class: "muted", "data-testid": "funds" }, t("acct.no_funds"));
  return el("section", { class: "card" }, [
    el("h3", {}, t("acct.positions")),
    holdings,
    el("h3", { class: "gap" }, t("acct.funds")),
    funds,
  ]);
}

function historyCard(holder, assets) {
  const pick = el("select", { "data-testid": "history-asset" }, assets.map((a) => el("option", { value: a }, a)));
  const box = el("div", { class: "scroll" });
  async function load() {
    const asset = pick.value;
    try {
      const page = await api(`/v1/holders/${holder}/history`, { params: { asset, limit: 100 } });
      const amount = (n) => (asset === "CNY" ? money(yuanOfFen(n)) : tonnes(n));
      box.replaceChildren(
        table(
          [
            ["acct.at", (r) => short(r.at)],
            ["acct.code", (r) => t(`acct.code.${r.code}`)],
            ["acct.posted", (r) => amount(r.posted), "num"],
            ["acct.held", (r) => amount(r.held), "num"],
            ["acct.counterparty", (r) => r.counterparty],
            ["acct.ref", (r) => r.ref || ""],
          ],
          page.items,
          t,
          { "data-testid": "history" },
        ),
      );
    } catch (error) {
      toastError(error);
    }
  }
  pick.addEventListener("change", load);
  if (assets.length) load();
  return el("section", { class: "card" }, [
    el("div", { class: "card-head" }, [el("h3", {}, t("acct.history")), field("acct.asset", pick)]),
    box,
  ]);
}

function statementCard(holder) {
  const day = el("input", { type: "date", "data-testid": "statement-date" });
  day.value = new Date().toISOString().slice(0, 10);
  const box = el("div");
  const form = el("form", { class: "form-grid" }, [
    field("acct.date", day),
    el("button", { type: "submit" }, t("acct.show")),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const st = await api(`/v1/holders/${holder}/statement`, { params: { date: day.value } });
      const rows = Object.entries(st.holdings).map(([asset, v]) => [asset, tonnes(v.total), tonnes(v.encumbered)]);
      if (st.funds) rows.push(["CNY", money(st.funds.total), money(st.funds.encumbered)]);
      box.replaceChildren(
        table(
          [
            ["acct.asset", (r) => r[0]],
            ["acct.total", (r) => r[1], "num"],
            ["acct.encumbered", (r) => r[2], "num"],
          ],
          rows,
          t,
          { "data-testid": "statement" },
        ),
      );
    } catch (error) {
      toastError(error);
    }
  });
  return el("section", { class: "card" }, [el("h3", {}, t("acct.statement")), form, box]);
}

// Either answer of a write: accepted now, or parked for a second person (202).
function announce(answer) {
  if (answer.status === "pending_approval") toast(t("acct.pending_approval", { id: answer.id }), "info");
  else toast(t("acct.accepted", { id: answer.id }), "ok");
}

function transferCard(holder, assets, reload) {
  const to = el("input", { required: true, "data-testid": "transfer-to", autocomplete: "off" });
  const asset = el("select", { "data-testid": "transfer-asset" }, assets.map((a) => el("option", { value: a }, a)));
  const quantity = el("input", { inputmode: "numeric", required: true, "data-testid": "transfer-quantity" });
  const form = el("form", { class: "form-grid", "data-testid": "transfer-form" }, [
    field("acct.to", to),
    field("acct.asset", asset),
    field("acct.quantity", quantity),
    el("button", { type: "submit", "data-testid": "transfer-submit" }, t("acct.submit_transfer")),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = wholeTonnes(quantity.value);
    if (!q) return toast(t("acct.bad_quantity"), "error");
    const body = { client_id: clientId("xfer"), from: holder, to: to.value.trim(), asset: asset.value, quantity: q };
    try {
      announce(await api("/v1/registry/transfer", { method: "POST", body }));
      form.reset();
      reload();
    } catch (error) {
      toastError(error);
    }
  });
  return el("section", { class: "card" }, [el("h3", {}, t("acct.transfer")), form]);
}

function complianceBox(holder, year) {
  const box = el("div", { "data-testid": "own-compliance" });
  api(`/v1/compliance/status/${year}`)
    .then((st) => {
      const row = st.rows.find((r) => r.account === holder);
      box.replaceChildren(
        row
          ? el("div", { class: "kpis" }, [
              el("div", { class: "kpi" }, [
                el("b", {}, el("span", { class: `pill st-${row.status}` }, row.status)),
                el("span", {}, `${t("acct.status")} · ${st.label}`),
              ]),
              el("div", { class: "kpi" }, [el("b", {}, tonnes(row.obligation)), el("span", {}, t("acct.obligation"))]),
              el("div", { class: "kpi" }, [el("b", {}, tonnes(row.surrendered)), el("span", {}, t("acct.surrendered"))]),
              el("div", { class: "kpi" }, [el("b", {}, tonnes(row.offset)), el("span", {}, t("acct.offset"))]),
              el("div", { class: "kpi" }, [
                el("b", {}, tonnes(row.offset_pending)),
                el("span", {}, t("acct.offset_pending")),
              ]),
            ])
          : el("p", { class: "muted" }, t("common.none")),
      );
    })
    .catch((error) => box.replaceChildren(el("p", { class: "muted" }, `${error.code || ""} ${error.message}`)));
  return box;
}

function surrenderCard(holder, assets, reload) {
  const year = el("input", { type: "number", min: 2000, max: 2200, required: true, "data-testid": "surrender-year" });
  year.value = String(new Date().getFullYear() - 1);
  const eligible = assets.filter((a) => a.startsWith("CEA-") || a === "CCER");
  const asset = el("select", { "data-testid": "surrender-asset" }, eligible.map((a) => el("option", { value: a }, a)));
  const quantity = el("input", { inputmode: "numeric", required: true, "data-testid": "surrender-quantity" });
  const status = el("div");
  const showStatus = () => status.replaceChildren(complianceBox(holder, Number(year.value)));
  const form = el("form", { class: "form-grid", "data-testid": "surrender-form" }, [
    field("acct.year", year),
    field("acct.asset", asset),
    field("acct.quantity", quantity),
    el("button", { type: "submit", "data-testid": "surrender-submit" }, t("acct.submit_surrender")),
  ]);
  year.addEventListener("change", showStatus);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = wholeTonnes(quantity.value);
    if (!q) return toast(t("acct.bad_quantity"), "error");
    const body = { id: clientId("sur"), account: holder, year: Number(year.value), asset: asset.value, quantity: q };
    try {
      const answer = await api("/v1/compliance/surrenders", { method: "POST", body });
      const state = t(`acct.state.${answer.state}`);
      toast(t("acct.surrender_state", { id: answer.id, state }), answer.state === "pending_approval" ? "info" : "ok");
      quantity.value = "";
      showStatus();
      reload();
    } catch (error) {
      toastError(error);
    }
  });
  showStatus();
  return el("section", { class: "card" }, [
    el("h3", {}, t("acct.surrender")),
    form,
    el("h3", { class: "gap" }, t("acct.compliance")),
    status,
  ]);
}

async function render(root, ctx) {
  const holder = ctx.me.holder;
  if (!holder) {
    root.replaceChildren(el("p", { class: "card muted" }, t("acct.no_holder")));
    return;
  }
  const may = (permission) => ctx.me.permissions.includes(permission);
  const [who, found] = await Promise.all([api(`/v1/holders/${holder}`), api(`/v1/holders/${holder}/positions`)]);
  const assets = Object.keys(found.holdings);
  // After a write, the holdings and the history are read again in place (the forms stay).
  const positions = el("div", { class: "ops-main" });
  const history = historyCard(holder, found.funds ? [...assets, "CNY"] : assets);
  const reload = async () => {
    try {
      positions.replaceChildren(positionsCard(await api(`/v1/holders/${holder}/positions`)));
      history.querySelector("select").dispatchEvent(new Event("change"));
    } catch (error) {
      toastError(error);
    }
  };
  positions.append(positionsCard(found));
  const side = [];
  if (may("transfer")) side.push(transferCard(holder, assets, reload));
  if (ctx.me.role === "key_emitter" && may("surrender")) side.push(surrenderCard(holder, assets, reload));
  root.replaceChildren(
    el("div", { class: "grid ops", "data-testid": "account-view" }, [
      el("div", { class: "card bar" }, [
        el("h2", {}, `${who.name}`),
        el("span", { class: "muted" }, `${t("acct.holder")} ${who.id}`),
        el("span", { class: `pill acct-${who.state}` }, t(`acct.hstate.${who.state}`)),
      ]),
      el("div", { class: "ops-main" }, [positions, history, statementCard(holder)]),
      el("div", { class: "ops-side" }, side),
    ]),
  );
}

export const view = { id: "account", label: "nav.account", roles: ["key_emitter", "investor"], render };
