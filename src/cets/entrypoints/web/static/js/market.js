// The market view: K-line chart (lightweight-charts; red up, green down, volume below), the five
// best levels of each side, the quotes a pick may take, the live tape (server-sent events), and
// for a holder's operator the order ticket, the open orders and the holdings and funds.
//
// Prices come as decimal strings of yuan; the chart is given them as numbers for drawing only
// (nothing drawn is sent back). Quantities are integer tonnes.

import { api, clientId, el, money, table, toast, toastError, tonnes } from "./api.js";
import { t } from "./i18n.js";
import "./market_labels.js";

const INTERVALS = ["1m", "5m", "15m", "30m", "1h", "1d", "1w", "1M"];
const INTRADAY = new Set(["1m", "5m", "15m", "30m", "1h"]);
const UP = "#e5484d";
const DOWN = "#1fa971";
const SHANGHAI_MS = 8 * 3600 * 1000; // the chart draws UTC: shift intraday bars to Beijing time
const HOLDER_ROLES = ["key_emitter", "investor"];


// Whole tonnes from the ticket, or null: "1.5", "1e3" or "-2" are not sent (the field is named).
function wholeTonnes(text) {
  const value = String(text).trim();
  return /^[1-9][0-9]{0,14}$/.test(value) ? Number(value) : null;
}

function chartTime(label, interval) {
  if (!INTRADAY.has(interval)) return label; // "2024-03-04": a business day
  return (Date.parse(label) + SHANGHAI_MS) / 1000;
}

function clock(at) {
  return `${at.slice(5, 10)} ${at.slice(11, 19)}`; // "2024-03-04T10:15:02+08:00" -> "03-04 10:15:02"
}

function drawChart(box) {
  const { createChart, CandlestickSeries, HistogramSeries } = window.LightweightCharts;
  const chart = createChart(box, {
    autoSize: true,
    layout: { background: { color: "#161d27" }, textColor: "#8795a7" },
    grid: { vertLines: { color: "#1f2835" }, horzLines: { color: "#1f2835" } },
    rightPriceScale: { borderColor: "#263243" },
    timeScale: { borderColor: "#263243", timeVisible: true, secondsVisible: false },
    crosshair: { mode: 0 },
  });
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: UP,
    downColor: DOWN,
    borderUpColor: UP,
    borderDownColor: DOWN,
    wickUpColor: UP,
    wickDownColor: DOWN,
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.28 } });
  const volume = chart.addSeries(HistogramSeries, { priceScaleId: "vol", priceFormat: { type: "volume" } });
  chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
  return { chart, candles, volume };
}

function toSeries(bars, interval) {
  const candles = [];
  const volume = [];
  for (const b of bars) {
    const time = chartTime(b.time, interval);
    const [open, high, low, close] = [b.open, b.high, b.low, b.close].map(Number);
    candles.push({ time, open, high, low, close });
    volume.push({ time, value: b.volume, color: close >= open ? UP : DOWN });
  }
  return { candles, volume };
}

export const view = {
  id: "market",
  label: "nav.market",
  roles: null,
  async render(root, ctx) {
    const holder = HOLDER_ROLES.includes(ctx.me.role) ? ctx.me.holder : null;
    const { instruments } = await api("/v1/market/instruments");
    const stored = localStorage.getItem("cets.instrument");
    // By default the newest listed vintage (the most traded in a compliance year).
    const first = instruments.filter((i) => i.listed).pop() || instruments[0];
    const state = {
      symbol: instruments.some((i) => i.symbol === stored) ? stored : first?.symbol,
      interval: localStorage.getItem("cets.interval") || "1d",
      side: "buy",
      stream: null,
      timer: null,
      lastBars: [],
    };
    const instrument = () => instruments.find((i) => i.symbol === state.symbol);

    const select = el(
      "select",
      { "data-testid": "instrument" },
      instruments.map((i) => el("option", { value: i.symbol }, i.symbol)),
    );
    select.value = state.symbol || "";
    const intervalBar = el(
      "div",
      { class: "intervals", "data-testid": "intervals" },
      INTERVALS.map((i) => el("button", { dataset: { interval: i }, class: i === state.interval ? "on" : "" }, i)),
    );
    const last = el("span", { class: "last", "data-testid": "last" }, "—");
    const change = el("span", { class: "chg" });
    const note = el("span", { class: "muted" });
    const legend = el("div", { class: "legend", "data-testid": "legend" });
    const box = el("div", { id: "kline", "data-testid": "kline" });
    const depthBox = el("div", { "data-testid": "depth" });
    const quotesBox = el("div", { "data-testid": "quotes" });
    const tapeBody = el("tbody");
    const tape = el("div", { class: "tape" }, el("table", { "data-testid": "tape" }, [
      el("thead", {}, el("tr", {}, [
        el("th", { "data-i18n": "m.time" }),
        el("th", { class: "num", "data-i18n": "m.price" }),
        el("th", { class: "num", "data-i18n": "m.qty" }),
      ])),
      tapeBody,
    ]));
    const ordersBox = el("div", { "data-testid": "orders" });
    const holdingsBox = el("div", { "data-testid": "holdings" });

    const price = el("input", { name: "price", inputmode: "decimal", "data-testid": "ticket-price", placeholder: "60.00" });
    const quantity = el("input", { name: "quantity", inputmode: "numeric", "data-testid": "ticket-quantity", placeholder: "100" });
    const buy = el("button", { type: "button", class: "buy on", "data-i18n": "m.buy", "data-testid": "ticket-buy" });
    const sell = el("button", { type: "button", class: "sell", "data-i18n": "m.sell", "data-testid": "ticket-sell" });
    const submit = el("button", { type: "submit", class: "buy", "data-i18n": "m.place", "data-testid": "ticket-submit" });
    const ticket = holder
      ? el("form", { class: "card ticket", "data-testid": "ticket" }, [
          el("h3", { "data-i18n": "m.ticket" }),
          el("div", { class: "tabs" }, [buy, sell]),
          el("div", { class: "row" }, [
            el("label", {}, [el("span", { "data-i18n": "m.price" }), price]),
            el("label", {}, [el("span", { "data-i18n": "m.qty" }), quantity]),
          ]),
          submit,
        ])
      : el("div", { class: "card muted", "data-i18n": "m.readonly" });

    root.append(
      el("div", { class: "grid market" }, [
        el("div", { class: "bar card" }, [
          el("label", {}, [el("span", { "data-i18n": "m.instrument" }), select]),
          el("div", { class: "quote-head" }, [last, change]),
          intervalBar,
          note,
        ]),
        el("div", { class: "chart card" }, [legend, box]),
        el("div", { class: "side" }, [
          el("div", { class: "card" }, [el("h3", { "data-i18n": "m.depth" }), depthBox]),
          ticket,
          el("div", { class: "card" }, [el("h3", { "data-i18n": "m.quotes" }), quotesBox]),
        ]),
        el("div", { class: "low" }, [
          el("div", { class: "card" }, [el("h3", { "data-i18n": "m.tape" }), tape]),
          holder
            ? el("div", { class: "card" }, [el("h3", { "data-i18n": "m.orders" }), ordersBox])
            : null,
          holder
            ? el("div", { class: "card wide" }, [el("h3", { "data-i18n": "m.holdings" }), holdingsBox])
            : null,
        ]),
      ]),
    );

    const drawn = drawChart(box);

    function setSide(side) {
      state.side = side;
      buy.classList.toggle("on", side === "buy");
      sell.classList.toggle("on", side === "sell");
      submit.className = side;
    }
    buy.addEventListener("click", () => setSide("buy"));
    sell.addEventListener("click", () => setSide("sell"));

    async function loadBars() {
      const inst = instrument();
      if (!inst) return;
      const params = { interval: state.interval };
      if (INTRADAY.has(state.interval)) {
        // The last few trading days up to the latest trade: intraday bars come from trades.
        const { trades } = await api(`/v1/market/${inst.symbol}/trades`, { params: { limit: 1 } });
        const day = trades.length ? trades[0].at.slice(0, 10) : new Date().toISOString().slice(0, 10);
        const from = new Date(Date.parse(day) - (state.interval === "1m" ? 0 : 6) * 86400000);
        Object.assign(params, { start: from.toISOString().slice(0, 10), end: day });
      }
      const { bars } = await api(`/v1/market/${inst.symbol}/klines`, { params });
      state.lastBars = bars;
      const series = toSeries(bars, state.interval);
      drawn.candles.setData(series.candles);
      drawn.volume.setData(series.volume);
      drawn.chart.timeScale().fitContent();
      box.dataset.bars = String(drawn.candles.data().length);
      box.dataset.interval = state.interval;
      legend.textContent = `${inst.symbol} · ${state.interval} · ${t("m.bars", { n: bars.length })}`;
      showLast();
    }

    function showLast() {
      const bars = state.lastBars;
      if (!bars.length) {
        last.textContent = "—";
        change.textContent = "";
        return;
      }
      const close = bars[bars.length - 1].close;
      const reference = instrument()?.prev_close ?? (bars.length > 1 ? bars[bars.length - 2].close : bars[0].open);
      const delta = Number(close) - Number(reference);
      last.textContent = close;
      last.className = `last ${delta >= 0 ? "up" : "down"}`;
      change.textContent = `${delta >= 0 ? "+" : ""}${delta.toFixed(2)} (${((delta / Number(reference)) * 100).toFixed(2)}%)`;
      change.className = `chg ${delta >= 0 ? "up" : "down"}`;
    }

    function showDepth(depth) {
      const top = Math.max(1, ...depth.asks.map((l) => l.quantity), ...depth.bids.map((l) => l.quantity));
      const row = (level, kind, n) =>
        el("tr", { class: `${kind} click`, onclick: () => (price.value = level.price), dataset: { price: level.price } }, [
          el("td", {}, `${t(kind === "ask" ? "m.ask" : "m.bid")}${n}`),
          el("td", { class: "num price" }, level.price),
          el("td", { class: "num bar-cell" }, [
            el("span", { class: "fill", style: `width:${(100 * level.quantity) / top}%` }),
            tonnes(level.quantity),
          ]),
        ]);
      const asks = depth.asks.slice(0, 5).map((l, i) => row(l, "ask", i + 1)).reverse();
      const bids = depth.bids.slice(0, 5).map((l, i) => row(l, "bid", i + 1));
      const spread =
        depth.asks.length && depth.bids.length
          ? (Number(depth.asks[0].price) - Number(depth.bids[0].price)).toFixed(2)
          : "—";
      const middle = el("tr", { class: "spread" }, el("td", { colspan: 3 }, `${t("m.spread")} ${spread}`));
      depthBox.replaceChildren(el("table", { class: "depth" }, el("tbody", {}, [...asks, middle, ...bids])));
    }

    async function loadQuotes() {
      if (!instrument()?.listed) return quotesBox.replaceChildren();
      const { quotes } = await api(`/v1/market/${state.symbol}/quotes`);
      const pick = (q) =>
        holder
          ? el("button", { class: `small ${q.side === "sell" ? "buy" : "sell"}`, onclick: () => pickQuote(q), "data-testid": `pick-${q.id}` }, t("m.pick"))
          : "";
      quotesBox.replaceChildren(
        table(
          [
            ["m.side", (q) => el("span", { class: q.side === "buy" ? "up" : "down" }, t(q.side === "buy" ? "m.bid" : "m.ask"))],
            ["m.price", (q) => q.price, "num"],
            ["m.qty", (q) => tonnes(q.quantity), "num"],
            ["m.pick", pick],
          ],
          quotes.slice(0, 10),
          t,
        ),
      );
    }

    async function pickQuote(q) {
      const typed = quantity.value.trim();
      const wanted = typed === "" ? q.quantity : wholeTonnes(typed);
      if (wanted === null) return toast(t("m.bad_quantity"), "error");
      try {
        const order = await api("/v1/picks", {
          method: "POST",
          body: { id: clientId("pick"), account: holder, quote: q.id, quantity: Math.min(wanted, q.quantity) },
        });
        toast(t("m.picked", { id: order.id, filled: order.filled }), "ok");
      } catch (error) {
        toastError(error);
      }
      await refreshMine();
    }

    function addTrade(trade, fresh) {
      const row = el("tr", { class: fresh ? "fresh" : "", dataset: { trade: trade.id } }, [
        el("td", {}, clock(trade.at)),
        el("td", { class: "num" }, trade.price),
        el("td", { class: "num" }, tonnes(trade.quantity)),
      ]);
      tapeBody.prepend(row);
      while (tapeBody.children.length > 60) tapeBody.lastChild.remove();
    }

    async function refreshMine() {
      if (!holder) return;
      const [{ orders }, positions] = await Promise.all([
        api("/v1/orders", { params: { open: "true" } }),
        api(`/v1/holders/${holder}/positions`),
      ]);
      ordersBox.replaceChildren(
        table(
          [
            ["m.instrument", (o) => o.instrument],
            ["m.side", (o) => el("span", { class: o.side === "buy" ? "up" : "down" }, t(o.side === "buy" ? "m.buy" : "m.sell"))],
            ["m.price", (o) => o.price, "num"],
            ["m.qty", (o) => tonnes(o.quantity), "num"],
            ["m.filled", (o) => tonnes(o.filled), "num"],
            ["", (o) => el("button", { class: "small ghost", onclick: () => cancel(o.id), "data-testid": `cancel-${o.id}` }, t("m.cancel"))],
          ],
          orders,
          t,
          { "data-testid": "open-orders" },
        ),
      );
      const assets = [...new Set([...Object.keys(positions.holdings), ...Object.keys(positions.undelivered || {})])].sort();
      const rows = assets.map((asset) => ({
        asset,
        p: positions.holdings[asset] || { total: 0, available: 0, in_orders: 0, frozen: 0, pledged: 0 },
        u: (positions.undelivered || {})[asset] || { bought: 0, sold: 0 },
      }));
      const funds = positions.funds;
      holdingsBox.replaceChildren(
        table(
          [
            ["m.asset", (r) => r.asset],
            ["m.total", (r) => tonnes(r.p.total), "num"],
            ["m.available", (r) => tonnes(r.p.available), "num"],
            ["m.in_orders", (r) => tonnes(r.p.in_orders), "num"],
            ["m.frozen", (r) => tonnes(r.p.frozen + r.p.pledged), "num"],
            ["m.bought", (r) => el("span", { "data-testid": `bought-${r.asset}` }, tonnes(r.u.bought)), "num"],
            ["m.sold", (r) => el("span", { "data-testid": `sold-${r.asset}` }, tonnes(r.u.sold)), "num"],
          ],
          rows,
          t,
          { "data-testid": "holdings-table" },
        ),
        funds
          ? el("div", { class: "kpis", style: "margin-top:10px" }, [
              el("div", { class: "kpi" }, [el("b", { "data-testid": "funds-available" }, money(funds.available)), el("span", {}, `${t("m.funds")} · ${t("m.available")}`)]),
              el("div", { class: "kpi" }, [el("b", {}, money(funds.in_orders)), el("span", {}, t("m.in_orders"))]),
              el("div", { class: "kpi" }, [el("b", {}, money(funds.total)), el("span", {}, t("m.total"))]),
            ])
          : null,
      );
    }

    async function cancel(orderId) {
      try {
        await api(`/v1/orders/${encodeURIComponent(orderId)}/cancel`, { method: "POST" });
        toast(t("m.cancelled", { id: orderId }), "ok");
      } catch (error) {
        toastError(error);
      }
      await refreshMine();
    }

    if (holder) {
      ticket.addEventListener("submit", async (event) => {
        event.preventDefault();
        const tonnesWanted = wholeTonnes(quantity.value);
        if (tonnesWanted === null) return toast(t("m.bad_quantity"), "error");
        submit.disabled = true;
        try {
          const order = await api("/v1/orders", {
            method: "POST",
            body: {
              id: clientId("web"),
              account: holder,
              instrument: state.symbol,
              side: state.side,
              quantity: tonnesWanted,
              price: price.value.trim(),
            },
          });
          const status = t(`status.${order.status}`);
          const why = order.reason ? ` (${order.reason})` : "";
          toast(t("m.placed", { id: order.id, status: status + why }), order.status === "rejected" ? "error" : "ok");
        } catch (error) {
          toastError(error);
        } finally {
          submit.disabled = !instrument()?.listed;
        }
        await refreshMine();
      });
    }

    function follow() {
      if (state.stream) state.stream.close();
      tapeBody.replaceChildren();
      const inst = instrument();
      note.textContent = inst && !inst.listed ? t("m.history") : inst?.halted ? t("m.halted") : "";
      if (holder) submit.disabled = !inst?.listed; // history only: nothing to trade
      if (!inst?.listed) {
        depthBox.replaceChildren();
        return;
      }
      api(`/v1/market/${inst.symbol}/trades`, { params: { limit: 30 } })
        .then(({ trades }) => trades.slice().reverse().forEach((x) => addTrade(x, false)))
        .catch(toastError);
      const stream = new EventSource(`/v1/market/${encodeURIComponent(inst.symbol)}/stream`);
      stream.addEventListener("depth", (event) => {
        showDepth(JSON.parse(event.data));
        loadQuotes().catch(() => {});
      });
      stream.addEventListener("trade", (event) => {
        addTrade(JSON.parse(event.data), true);
        clearTimeout(state.timer);
        state.timer = setTimeout(() => {
          loadBars().catch(() => {});
          refreshMine().catch(() => {});
        }, 300);
      });
      state.stream = stream;
    }

    select.addEventListener("change", async () => {
      state.symbol = select.value;
      localStorage.setItem("cets.instrument", state.symbol);
      follow();
      await Promise.all([loadBars(), loadQuotes()]).catch(toastError);
    });
    intervalBar.addEventListener("click", async (event) => {
      const interval = event.target.dataset?.interval;
      if (!interval) return;
      state.interval = interval;
      localStorage.setItem("cets.interval", interval);
      for (const b of intervalBar.children) b.classList.toggle("on", b.dataset.interval === interval);
      await loadBars().catch(toastError);
    });

    follow();
    await Promise.all([loadBars(), loadQuotes(), refreshMine()]);
    return () => {
      if (state.stream) state.stream.close();
      clearTimeout(state.timer);
      drawn.chart.remove();
    };
  },
};
