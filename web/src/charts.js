// Chart.js, registered with only what the console draws (tree-shaken), no animation.
import {
  Chart,
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  Legend,
  Tooltip,
  Filler,
} from "chart.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip, Filler);
Chart.defaults.animation = false;
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.font.size = 12;
Chart.defaults.color = "#334";
Chart.defaults.maintainAspectRatio = false;

export const COLORS = {
  agent: "#2563eb",
  customer: "#d97706",
  overlap: "#dc2626",
  silence: "#64748b",
  redaction: "#111827",
  good: "#16a34a",
  palette: ["#2563eb", "#d97706", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"],
};

export { Chart };
