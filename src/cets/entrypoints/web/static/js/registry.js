// Registry operations for the authority and the registry operator: the holders (searchable), a
// holder's positions, one form for every registry operation the person's role may perform (the
// fields follow the operation chosen, from the table `OPS` below, mirroring the `*In` bodies of
// `POST /v1/registry/{kind}`), the four-eyes requests waiting for a second person, and the tail
// of the journal.
//
// Transfer and voluntary cancellation are a holder's own operators' (access rules), deposits and
// withdrawals a settlement bank's: they are not offered here.

import { api, clientId, el, money, table, toast, toastError, tonnes } from "./api.js";
import { extend, t } from "./i18n.js";

// Labels: [key, Chinese, English].
const LABELS = [
  ["reg.holders", "账户主体", "Holders"],
  ["reg.search", "按编号、名称、信用代码或实际控制人搜索", "Search by id, name, code or controller"],
  ["reg.id", "编号", "Id"],
  ["reg.name", "名称", "Name"],
  ["reg.kind", "类型", "Kind"],
  ["reg.state", "状态", "State"],
  ["reg.controller", "实际控制人", "Controller"],
  ["reg.code", "统一社会信用代码", "Credit code"],
  ["reg.positions", "持仓：{holder}", "Positions: {holder}"],
  ["reg.pick_holder", "点击左侧账户查看持仓", "Click a holder to see its positions"],
  ["reg.asset", "品种", "Asset"],
  ["reg.total", "总量（吨）", "Total (t)"],
  ["reg.available", "可用", "Available"],
  ["reg.frozen", "冻结", "Frozen"],
  ["reg.pledged", "质押", "Pledged"],
  ["reg.in_orders", "委托占用", "In orders"],
  ["reg.funds", "资金（元）：总额 {total}，可用 {available}", "Funds (CNY): total {total}, available {available}"],
  ["reg.operation", "登记业务", "Registry operation"],
  ["reg.op", "业务类型", "Operation"],
  ["reg.submit", "提交", "Submit"],
  ["reg.accepted", "已办理：{id}（流水号 {seq}）", "Done: {id} (journal {seq})"],
  ["reg.pending", "已提交，等待第二人复核：{id}", "Submitted, waiting for a second person: {id}"],
  ["reg.approvals", "待复核业务（四眼原则）", "Waiting for a second person (four-eyes)"],
  ["reg.params", "业务要素", "Parameters"],
  ["reg.requested_by", "申请人", "Requested by"],
  ["reg.requested_at", "申请时间", "Requested at"],
  ["reg.expires_at", "有效期至", "Expires at"],
  ["reg.approve", "复核通过", "Approve"],
  ["reg.reject", "驳回", "Reject"],
  ["reg.withdraw", "撤回", "Withdraw"],
  ["reg.reason", "驳回理由", "Reason"],
  ["reg.approved", "复核通过，已办理：{id}", "Approved and done: {id}"],
  ["reg.rejected", "已驳回：{id}", "Rejected: {id}"],
  ["reg.journal", "业务日志（最新）", "Journal (latest)"],
  ["reg.seq", "流水号", "Seq"],
  ["reg.at", "时间", "Time"],
  ["reg.actor", "操作人", "Actor"],
  ["reg.body", "内容", "Body"],
  ["reg.hash", "哈希", "Hash"],
  ["reg.bad_number", "{field}：须为整数", "{field}: a whole number, please"],
  ["reg.optional", "（选填）", " (optional)"],
  ["reg.op.issue", "配额/CCER 签发", "Issue"],
  ["reg.op.allocate", "配额分配", "Allocate"],
  ["reg.op.true_up", "分配调整（负数为收回）", "True-up (negative: recovery)"],
  ["reg.op.forced_surrender", "强制清缴", "Forced surrender"],
  ["reg.op.freeze", "冻结", "Freeze"],
  ["reg.op.unfreeze", "解除冻结", "Unfreeze"],
  ["reg.op.deduct", "司法扣划", "Judicial deduction"],
  ["reg.op.pledge", "质押登记", "Register a pledge"],
  ["reg.op.release", "解除质押", "Release a pledge"],
  ["reg.op.enforce", "质权实现", "Enforce a pledge"],
  ["reg.op.succeed", "承继/合并变更", "Succession / merger"],
  ["reg.op.restrict", "限制账户", "Restrict account"],
  ["reg.op.unrestrict", "解除限制", "Lift restriction"],
  ["reg.op.freeze_account", "冻结账户", "Freeze account"],
  ["reg.op.unfreeze_account", "解除账户冻结", "Unfreeze account"],
  ["reg.op.begin_closure", "申请销户", "Begin closure"],
  ["reg.op.close_account", "销户", "Close account"],
  ["reg.f.to", "转入账户", "To account"],
  ["reg.f.account", "账户", "Account"],
  ["reg.f.asset", "品种", "Asset"],
  ["reg.f.quantity", "数量（吨）", "Quantity (t)"],
  ["reg.f.ref", "文书/业务编号", "Reference"],
  ["reg.f.pledgee", "质权人", "Pledgee"],
  ["reg.f.year", "履约年度", "Compliance year"],
  ["reg.hstate.normal", "正常", "normal"],
  ["reg.hstate.restricted", "受限", "restricted"],
  ["reg.hstate.frozen", "冻结", "frozen"],
  ["reg.hstate.closure_pending", "销户中", "closure pending"],
  ["reg.hstate.closed", "已销户", "closed"],
  ["reg.kind.key_emitter", "重点排放单位", "Key emitter"],
  ["reg.kind.institution", "机构投资者", "Institution"],
  ["reg.kind.individual", "个人投资者", "Individual"],
  ["reg.kind.settlement_bank", "结算银行", "Settlement bank"],
  ["reg.kind.authority", "主管部门", "Authority"],
  ["reg.kind.registry_operator", "登记机构", "Registry operator"],
  ["reg.kind.exchange_operator", "交易机构", "Exchange operator"],
];
extend({ zh: Object.fromEntries(LABELS.map(([k, zh]) => [k, zh])), en: Object.fromEntries(LABELS.map(([k, , en]) => [k, en])) });

// Field name -> its input kind. A name ending in "?" is optional; "quantity±" may be negative.
const KINDS = { to: "holder", account: "holder", pledgee: "holder", asset: "asset", ref: "text", year: "int" };
const AUTHORITY = ["authority"];
const REGISTRY = ["registry_operator"];
// Operation -> who may submit it and its body's fields (schemas.py, routes/registry.py BODIES).
const OPS = {
  issue: [AUTHORITY, ["asset", "quantity", "to?"]],
  allocate: [AUTHORITY, ["to", "asset", "quantity"]],
  true_up: [AUTHORITY, ["to", "asset", "quantity±"]],
  forced_surrender: [AUTHORITY, ["account", "asset", "quantity", "year"]],
  freeze: [REGISTRY, ["account", "asset", "quantity", "ref"]],
  unfreeze: [REGISTRY, ["ref", "quantity?"]],
  deduct: [REGISTRY, ["ref", "to", "quantity"]],
  pledge: [REGISTRY, ["account", "asset", "quantity", "ref", "pledgee"]],
  release: [REGISTRY, ["ref"]],
  enforce: [REGISTRY, ["ref", "quantity?"]],
  succeed: [REGISTRY, ["account", "to"]],
  restrict: [REGISTRY, ["account"]],
  unrestrict: [REGISTRY, ["account"]],
  freeze_account: [REGISTRY, ["account"]],
  unfreeze_account: [REGISTRY, ["account"]],
  begin_closure: [REGISTRY, ["account"]],
  close_account: [REGISTRY, ["account"]],
};

const short = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "");

// One field of an operation: its name in the body, whether it may be left empty, its input.
function spec(entry) {
  const optional = entry.endsWith("?");
  const signed = entry.endsWith("±");
  const name = entry.replace(/[?±]$/, "");
  const kind = name === "quantity" ? "int" : KINDS[name];
  const attrs = { name, "data-testid": `op-field-${name}`, autocomplete: "off", required: !optional };
  if (kind === "holder") attrs.list = "reg-holder-ids";
  if (kind === "asset") Object.assign(attrs, { list: "reg-assets", pattern: "CEA-[0-9]{4}|CCER" });
  if (kind === "int") Object.assign(attrs, { inputmode: "numeric", pattern: signed ? "-?[0-9]+" : "[0-9]+" });
  const label = t(`reg.f.${name}`) + (optional ? t("reg.optional") : "");
  return { name, kind, input: el("input", attrs), label };
}

// The body of an operation from its inputs, or throws a message naming the bad field.
function bodyOf(kind, fields) {
  const body = { client_id: clientId(kind.replace(/_/g, "-")) };
  for (const f of fields) {
    const text = f.input.value.trim();
    if (text === "") continue;
    if (f.kind === "int") {
      if (!/^-?[0-9]{1,15}$/.test(text)) throw new Error(t("reg.bad_number", { field: f.label }));
      body[f.name] = Number(text);
    } else body[f.name] = text;
  }
  return body;
}

function positionsTable(found) {
  const rows = Object.entries(found.holdings).map(([asset, p]) => ({ asset, ...p }));
  const columns = [
    ["reg.asset", (r) => r.asset],
    ["reg.total", (r) => tonnes(r.total), "num"],
    ["reg.available", (r) => tonnes(r.available), "num"],
    ["reg.frozen", (r) => tonnes(r.frozen), "num"],
    ["reg.pledged", (r) => tonnes(r.pledged), "num"],
    ["reg.in_orders", (r) => tonnes(r.in_orders), "num"],
  ];
  const funds = found.funds
    ? el("p", { class: "muted" }, t("reg.funds", { total: money(found.funds.total), available: money(found.funds.available) }))
    : null;
  return [table(columns, rows, t, { "data-testid": "holder-positions" }), funds];
}

async function allHolders() {
  const found = [];
  let after;
  for (let page = 0; page < 50; page += 1) {
    const answer = await api("/v1/holders", { params: { after, limit: 1000 } });
    found.push(...answer.items);
    if (!answer.next) break;
    after = answer.next;
  }
  return found;
}

// The journal's last entries, newest first.
async function journalTail(count) {
  const page = await api("/v1/journal", { params: { tail: "true", limit: count } });
  return page.items.reverse();
}

async function render(root, ctx) {
  const me = ctx.me;
  const state = { holders: [], selected: null };
  const search = el("input", { type: "search", "data-i18n-ph": "reg.search", "data-testid": "holder-search" });
  const holdersBox = el("div", { class: "scroll" });
  const positionsBox = el("div", { "data-testid": "positions-panel" }, el("p", { class: "muted" }, t("reg.pick_holder")));
  const positionsHead = el("h3", {}, t("reg.positions", { holder: "—" }));
  const approvalsBox = el("div", { "data-testid": "approvals" });
  const journalBox = el("div", { class: "scroll" });
  const holderIds = el("datalist", { id: "reg-holder-ids" });
  const year = new Date().getFullYear();
  const assetIds = el("datalist", { id: "reg-assets" }, [
    ...[0, 1, 2, 3, 4, 5].map((back) => el("option", { value: `CEA-${year - back}` })),
    el("option", { value: "CCER" }),
  ]);

  function drawHolders() {
    const needle = search.value.trim().toLowerCase();
    const shown = state.holders.filter((h) =>
      [h.id, h.name, h.code, h.controller].some((v) => v && v.toLowerCase().includes(needle)),
    );
    const grid = table(
      [
        ["reg.id", (h) => h.id],
        ["reg.name", (h) => h.name],
        ["reg.kind", (h) => t(`reg.kind.${h.kind}`)],
        ["reg.state", (h) => el("span", { class: `pill acct-${h.state}` }, t(`reg.hstate.${h.state}`))],
        ["reg.controller", (h) => h.controller || ""],
      ],
      shown,
      t,
      { "data-testid": "holders" },
    );
    grid.querySelectorAll("tbody tr").forEach((tr, i) => {
      if (!shown[i]) return;
      tr.classList.add("click");
      tr.dataset.holder = shown[i].id;
      tr.classList.toggle("selected", shown[i].id === state.selected);
      tr.addEventListener("click", () => selectHolder(shown[i].id));
    });
    holdersBox.replaceChildren(grid);
  }

  async function loadHolders() {
    state.holders = await allHolders();
    holderIds.replaceChildren(...state.holders.map((h) => el("option", { value: h.id }, h.name)));
    drawHolders();
  }

  async function selectHolder(id) {
    state.selected = id;
    positionsHead.textContent = t("reg.positions", { holder: id });
    drawHolders();
    try {
      positionsBox.replaceChildren(...positionsTable(await api(`/v1/holders/${id}/positions`)));
    } catch (error) {
      toastError(error);
    }
    const first = form.querySelector("input[list='reg-holder-ids']");
    if (first && !first.value) first.value = id;
  }

  async function loadApprovals() {
    try {
      const page = await api("/v1/approvals", { params: { state: "pending" } });
      const decide = (a) => {
        const reason = el("input", { "data-i18n-ph": "reg.reason", placeholder: t("reg.reason"), class: "reason" });
        const own = a.requested_by === me.id;
        const approve = el("button", { class: "small", disabled: own, "data-testid": "approve" }, t("reg.approve"));
        const reject = el("button", { class: "small ghost", "data-testid": "reject" }, t(own ? "reg.withdraw" : "reg.reject"));
        approve.addEventListener("click", () => act(`/v1/approvals/${a.id}/approve`, undefined, "reg.approved", a.id));
        reject.addEventListener("click", () =>
          act(`/v1/approvals/${a.id}/reject`, { reason: reason.value.trim() }, "reg.rejected", a.id),
        );
        return el("div", { class: "actions" }, [reason, approve, reject]);
      };
      const params = (a) =>
        Object.entries(a.params)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => `${k}=${typeof v === "number" ? tonnes(v) : v}`)
          .join(" · ");
      const grid = table(
        [
          ["reg.id", (a) => a.id],
          ["reg.op", (a) => t(`reg.op.${a.kind}`)],
          ["reg.params", params],
          ["reg.requested_by", (a) => a.requested_by],
          ["reg.requested_at", (a) => short(a.requested_at)],
          ["reg.expires_at", (a) => short(a.expires_at)],
          ["", decide],
        ],
        page.items,
        t,
      );
      grid.querySelectorAll("tbody tr").forEach((tr, i) => page.items[i] && (tr.dataset.approval = page.items[i].id));
      approvalsBox.replaceChildren(grid);
    } catch (error) {
      toastError(error);
    }
  }

  async function loadJournal() {
    try {
      const items = await journalTail(20);
      journalBox.replaceChildren(
        table(
          [
            ["reg.seq", (e) => e.seq, "num"],
            ["reg.at", (e) => short(e.at)],
            ["reg.op", (e) => e.kind],
            ["reg.actor", (e) => e.actor],
            ["reg.body", (e) => el("code", { title: e.body }, e.body.length > 110 ? `${e.body.slice(0, 110)}…` : e.body)],
            ["reg.hash", (e) => el("code", { title: e.hash }, e.hash.slice(0, 12))],
          ],
          items,
          t,
          { "data-testid": "journal" },
        ),
      );
    } catch (error) {
      toastError(error);
    }
  }

  async function refresh() {
    await Promise.all([loadApprovals(), loadJournal(), state.selected ? selectHolder(state.selected) : null]);
  }

  async function act(path, body, okKey, id) {
    try {
      await api(path, { method: "POST", body });
      toast(t(okKey, { id }), "ok");
    } catch (error) {
      toastError(error);
    }
    await refresh();
  }

  // The operation form: a select of what this role may do, then that operation's fields.
  const kinds = Object.keys(OPS).filter((k) => OPS[k][0].includes(me.role));
  const choice = el("select", { "data-testid": "op-kind" }, kinds.map((k) => el("option", { value: k }, t(`reg.op.${k}`))));
  const fieldsBox = el("div", { class: "form-grid" });
  const result = el("div", { class: "muted", "data-testid": "op-result" });
  let fields = [];
  function drawFields() {
    fields = OPS[choice.value][1].map(spec);
    fieldsBox.replaceChildren(...fields.map((f) => el("label", {}, [f.label, f.input])));
    if (state.selected) {
      const holderField = fields.find((f) => f.kind === "holder");
      if (holderField) holderField.input.value = state.selected;
    }
  }
  choice.addEventListener("change", drawFields);
  const form = el("form", { class: "ticket", "data-testid": "op-form" }, [
    el("label", {}, [t("reg.op"), choice]),
    fieldsBox,
    el("button", { type: "submit", "data-testid": "op-submit" }, t("reg.submit")),
    result,
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = choice.value;
    let body;
    try {
      body = bodyOf(kind, fields);
    } catch (error) {
      return toast(error.message, "error");
    }
    try {
      const answer = await api(`/v1/registry/${kind}`, { method: "POST", body });
      const pending = answer.status === "pending_approval";
      const text = pending ? t("reg.pending", { id: answer.id }) : t("reg.accepted", { id: answer.id, seq: answer.seq });
      toast(text, pending ? "info" : "ok");
      result.textContent = text;
      result.dataset.status = answer.status;
      drawFields();
    } catch (error) {
      toastError(error);
      result.textContent = `${error.code || t("common.error")}${error.field ? ` [${error.field}]` : ""}: ${error.message}`;
      result.dataset.status = "refused";
    }
    await refresh();
  });
  if (kinds.length) drawFields();
  search.addEventListener("input", drawHolders);

  root.replaceChildren(
    el("div", { class: "grid ops-registry", "data-testid": "registry-view" }, [
      holderIds,
      assetIds,
      el("section", { class: "card" }, [el("h3", {}, t("reg.holders")), search, holdersBox]),
      el("section", { class: "card" }, [positionsHead, positionsBox]),
      kinds.length ? el("section", { class: "card" }, [el("h3", {}, t("reg.operation")), form]) : null,
      el("section", { class: "card" }, [el("h3", {}, t("reg.approvals")), approvalsBox]),
      el("section", { class: "card wide" }, [
        el("div", { class: "card-head" }, [
          el("h3", {}, t("reg.journal")),
          el("button", { class: "ghost small", onclick: refresh }, t("common.refresh")),
        ]),
        journalBox,
      ]),
    ]),
  );
  await Promise.all([loadHolders(), loadApprovals(), loadJournal()]);
}

export const view = { id: "registry", label: "nav.registry", roles: ["authority", "registry_operator"], render };
