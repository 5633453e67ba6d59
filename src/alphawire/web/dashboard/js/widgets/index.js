// Every widget, in the default order, and the default layout (12-column grid: data-w
// 1..5 spans 3, 4, 6, 8 or 12 columns; data-h 1..3 spans 2, 3 or 4 rows).

import { MarketOverview } from "./market.js";
import { ConnectionStatus } from "./status.js";

export const WIDGETS = [MarketOverview, ConnectionStatus];

export const DEFAULT_LAYOUT = {
  order: WIDGETS.map((W) => W.id),
  width: { market: 4, status: 1 },
  height: { market: 2, status: 2 },
};
