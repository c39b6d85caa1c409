import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import { api } from "../api";
import { ErrorBox, Empty, Loading, Section, fmtTime, text, useLoad } from "../ui";
import { openapiDoc } from "./config";

const PERIODS = ["1h", "24h", "7d", "30d"];
const INTERVALS = ["", "5m", "1h", "1d"];

export function MetricsPage() {
  const [period, setPeriod] = useState("24h");
  const summary = useLoad(() => api("GET", "/admin/v1/metrics", undefined, { query: { period } }), [period]);
  const metrics = useLoad(async () => {
    const doc = await openapiDoc();
    const p = doc.paths["/admin/v1/metrics/timeseries"].get.parameters.find((x: any) => x.name === "metric");
    return p.schema.enum as string[];
  }, []);
  return (
    <>
      <h1>Metrics</h1>
      <div className="row">
        <label>Summary period <select name="summary_period" value={period} onChange={(e) => setPeriod(e.target.value)}>{PERIODS.map((p) => <option key={p}>{p}</option>)}</select></label>
      </div>
      <ErrorBox error={summary.error} />
      {summary.loading && !summary.data && <Loading />}
      {summary.data && (
        <div className="summary-grid">
          {Object.entries(summary.data).filter(([, v]) => v && typeof v === "object").map(([group, values]) => (
            <Section key={group} title={group} id={`m-${group}`}>
              <dl className="facts">
                {Object.entries(values as object).map(([k, v]) => (
                  <div key={k} className="fact"><dt>{k.replace(/_/g, " ")}</dt><dd>{text(v)}</dd></div>
                ))}
              </dl>
            </Section>
          ))}
        </div>
      )}
      <h2>Time series</h2>
      <ErrorBox error={metrics.error} />
      {metrics.data && <div className="charts">{metrics.data.map((m) => <Chart key={m} metric={m} />)}</div>}
    </>
  );
}

function Chart({ metric }: { metric: string }) {
  const [period, setPeriod] = useState("1h");
  const [interval, setInterval] = useState("");
  const ts = useLoad(() => api("GET", "/admin/v1/metrics/timeseries", undefined, { query: { metric, period, interval } }), [metric, period, interval]);
  const el = useRef<HTMLDivElement>(null);
  const points: { timestamp: number; value: number }[] = ts.data?.data_points ?? [];
  useEffect(() => {
    if (!el.current || points.length === 0) return;
    const width = Math.max(260, el.current.clientWidth || 400);
    const plot = new uPlot(
      {
        width,
        height: 180,
        series: [{}, { label: metric, stroke: "#1f5fbf", width: 2, fill: "rgba(31,95,191,0.12)", points: { show: true, size: 5 } }],
        axes: [{ stroke: "#333" }, { stroke: "#333" }],
        legend: { show: true },
      },
      [points.map((p) => p.timestamp), points.map((p) => p.value)],
      el.current,
    );
    const onResize = () => el.current && plot.setSize({ width: Math.max(260, el.current.clientWidth), height: 180 });
    window.addEventListener("resize", onResize);
    return () => { window.removeEventListener("resize", onResize); plot.destroy(); };
  }, [ts.data]);
  const a = ts.data?.aggregate;
  return (
    <section className="card chart" aria-label={`${metric} chart`} data-metric={metric}>
      <h3>{metric.replace(/_/g, " ")}</h3>
      <div className="row">
        <label>Period <select aria-label={`${metric} period`} value={period} onChange={(e) => setPeriod(e.target.value)}>{PERIODS.map((p) => <option key={p}>{p}</option>)}</select></label>
        <label>Interval <select aria-label={`${metric} interval`} value={interval} onChange={(e) => setInterval(e.target.value)}>{INTERVALS.map((p) => <option key={p} value={p}>{p || "default"}</option>)}</select></label>
      </div>
      <ErrorBox error={ts.error} />
      {ts.loading && !ts.data && <Loading />}
      {ts.data && points.length === 0 && <Empty>No data points in this period.</Empty>}
      <div ref={el} className="plot" data-points={points.length} role="img" aria-label={`${metric}: ${points.length} points`} />
      {a && points.length > 0 && (
        <p className="muted">min {text(a.min)} · max {text(a.max)} · avg {a.avg === null ? "—" : Number(a.avg).toFixed(2)} · total {text(a.total)} · {ts.data.interval} intervals, last at {fmtTime(points[points.length - 1].timestamp)}</p>
      )}
    </section>
  );
}
