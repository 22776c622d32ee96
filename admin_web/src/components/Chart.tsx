/**
 * Chart.js on a canvas, with only the parts we draw registered (keeps the bundle small). The canvas is an image
 * with a text summary for screen readers; pages show the numbers in a table as well.
 */
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartData,
  type ChartOptions,
  type ChartType,
} from "chart.js";
import { useEffect, useRef } from "react";

ChartJS.register(
  ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Filler, Legend, LinearScale,
  LineController, LineElement, PointElement, Tooltip,
);

/** A colour-blind-friendly palette (Okabe–Ito), in the order series are drawn. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

export function Chart<T extends ChartType>({
  type,
  data,
  options,
  label,
  height = 260,
}: {
  type: T;
  data: ChartData<T>;
  options?: ChartOptions<T>;
  /** What the chart shows, for assistive technology ("Cost per day, 1–30 Nov"). */
  label: string;
  height?: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<ChartJS<T> | null>(null);

  useEffect(() => {
    if (!canvas.current) return;
    const context = canvas.current.getContext("2d");
    if (!context) return; // jsdom (component tests) has no canvas
    const config = {
      type,
      data,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
    } as ChartConfiguration<T>;
    chart.current = new ChartJS(context, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [type, data, options]);

  return (
    <div className="chart" style={{ height }}>
      <canvas ref={canvas} role="img" aria-label={label} data-testid="chart" data-chart-label={label}>
        {label}
      </canvas>
    </div>
  );
}
