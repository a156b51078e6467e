// Chinese and English labels. Every view adds its own with `extend`; `t` looks a key up in the
// language chosen (kept in localStorage), falling back to English, then to the key itself.
// Elements carry `data-i18n="key"` (text), `data-i18n-ph="key"` (placeholder) or
// `data-i18n-title="key"`, and `translate(root)` fills them; switching language re-renders.

const LABELS = { zh: {}, en: {} };
const STORE = "cets.lang";

export function extend(labels) {
  for (const lang of Object.keys(LABELS)) Object.assign(LABELS[lang], labels[lang] || {});
}

export function lang() {
  const chosen = localStorage.getItem(STORE);
  return chosen === "en" || chosen === "zh" ? chosen : "zh";
}

export function setLang(value) {
  localStorage.setItem(STORE, value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
}

export function t(key, vars) {
  let text = LABELS[lang()][key] ?? LABELS.en[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replaceAll(`{${name}}`, value);
  return text;
}

export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

extend({
  zh: {
    "brand.sub": "全国碳排放权交易系统",
    "lang.switch": "English",
    logout: "退出",
    "nav.market": "行情交易",
    "nav.account": "持仓资金",
    "nav.registry": "登记业务",
    "nav.compliance": "履约管理",
    "nav.supervision": "市场监管",
    "login.title": "登录",
    "login.key": "API 密钥",
    "login.hint": "输入您的 API 密钥（由 cets key issue 签发；make run 会打印演示账户的密钥）。",
    "login.submit": "登录",
    "login.bad": "密钥无效或已过期",
    "role.authority": "主管部门",
    "role.registry_operator": "登记机构",
    "role.exchange_operator": "交易机构",
    "role.key_emitter": "重点排放单位",
    "role.investor": "投资者",
    "role.settlement_bank": "结算银行",
    "role.supervisor": "监管人员",
    "common.loading": "加载中…",
    "common.none": "暂无数据",
    "common.error": "错误",
    "common.ok": "成功",
    "common.refresh": "刷新",
    "clock.open": "交易中",
    "clock.closed": "休市",
    "clock.demo": "演示时钟",
  },
  en: {
    "brand.sub": "National Carbon Emission Trading System",
    "lang.switch": "中文",
    logout: "Log out",
    "nav.market": "Market",
    "nav.account": "Holdings & funds",
    "nav.registry": "Registry",
    "nav.compliance": "Compliance",
    "nav.supervision": "Supervision",
    "login.title": "Log in",
    "login.key": "API key",
    "login.hint": "Enter your API key (issued by cets key issue; make run prints the demo logins' keys).",
    "login.submit": "Log in",
    "login.bad": "The key is not valid or has expired",
    "role.authority": "Competent authority",
    "role.registry_operator": "Registry operator",
    "role.exchange_operator": "Exchange operator",
    "role.key_emitter": "Key emitter",
    "role.investor": "Investor",
    "role.settlement_bank": "Settlement bank",
    "role.supervisor": "Supervisor",
    "common.loading": "Loading…",
    "common.none": "Nothing yet",
    "common.error": "Error",
    "common.ok": "Done",
    "common.refresh": "Refresh",
    "clock.open": "trading",
    "clock.closed": "closed",
    "clock.demo": "demo clock",
  },
});
