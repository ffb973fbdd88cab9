// Simple charts drawn as SVG (attributes only, no inline styles), with a table fallback for screen readers.
import { useApp } from '../app/context';

export interface Datum {
  label: string;
  value: number;
}

/** Horizontal bars, one row per label: HTML with width classes (5% steps), so text keeps its size. */
export function BarChart({ data, title, format = (n) => String(n) }: { data: Datum[]; title: string; format?: (n: number) => string }) {
  const max = Math.max(1, ...data.map((d) => d.value));
  return (
    <ul className="hbars" aria-label={title}>
      {data.map((d) => {
        const step = Math.round((d.value / max) * 20) * 5;
        return (
          <li key={d.label} className="hbar">
            <span className="hbar-label">{d.label}</span>
            <span className="hbar-track" aria-hidden="true">
              <span className={`hbar-fill bar-w-${d.value > 0 ? Math.max(step, 5) : 0}`} />
            </span>
            <span className="hbar-value">{format(d.value)}</span>
          </li>
        );
      })}
    </ul>
  );
}

/** Monthly columns (April → March) for one or two series. */
export function MonthlyChart({ labels, series, title }: { labels: string[]; series: { name: string; values: number[] }[]; title: string }) {
  const width = 640;
  const height = 220;
  const padL = 36;
  const padB = 28;
  const padT = 12;
  const plotW = width - padL - 8;
  const plotH = height - padB - padT;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const step = plotW / Math.max(1, labels.length);
  const colW = (step * 0.7) / Math.max(1, series.length);
  const ticks = [0, Math.round(max / 2), max];
  return (
    <figure className="chart-figure">
      <svg className="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        <title>{title}</title>
        {ticks.map((tk) => {
          const y = padT + plotH - (tk / max) * plotH;
          return (
            <g key={tk}>
              <line className="axis" x1={padL} x2={width - 8} y1={y} y2={y} />
              <text x={padL - 6} y={y + 4} textAnchor="end">
                {tk}
              </text>
            </g>
          );
        })}
        {labels.map((l, i) => (
          <g key={l}>
            {series.map((s, j) => {
              const v = s.values[i] ?? 0;
              const h = (v / max) * plotH;
              return <rect key={s.name} className={j === 0 ? 'bar-rect' : 'bar-rect-alt'} x={padL + i * step + step * 0.15 + j * colW} y={padT + plotH - h} width={colW} height={h} />;
            })}
            <text x={padL + i * step + step / 2} y={height - 8} textAnchor="middle">
              {l}
            </text>
          </g>
        ))}
      </svg>
      {series.length > 1 && (
        <figcaption className="legend">
          {series.map((s, j) => (
            <span key={s.name} className={j === 0 ? 'legend-a' : 'legend-b'}>
              {s.name}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

/** A KPI's progress toward its target, as a bar drawn with width classes (5% steps). */
export function Progress({ actual, target, label }: { actual: number; target: number; label: string }) {
  const { lang } = useApp();
  const pct = target > 0 ? Math.round((actual / target) * 100) : 0;
  const step = Math.min(100, Math.round(pct / 5) * 5);
  return (
    <div className={pct >= 100 ? 'progress progress-done' : 'progress'} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={target} aria-valuenow={actual} aria-valuetext={lang === 'ja' ? `${actual} / ${target}（${pct}%）` : `${actual} of ${target} (${pct}%)`}>
      <span className={`progress-fill bar-w-${step}`} />
    </div>
  );
}
