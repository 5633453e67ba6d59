// Every widget, in the default order, and the default layout (12-column grid: data-w
// 1..5 spans 3, 4, 6, 8 or 12 columns; data-h 1..3 spans 2, 3 or 4 rows of 140 px).

import { AlertsFeed } from "./alerts.js";
import { DarkPoolFlow } from "./darkpool.js";
import { GammaTracker } from "./gamma.js";
import { MacroIntelligence } from "./macro.js";
import { MarketOverview } from "./market.js";
import { NarrativeBrain } from "./narrative.js";
import { OptionsFlow } from "./options.js";
import { RedditSentiment } from "./reddit.js";
import { SignalsCenter } from "./signals.js";
import { SqueezeScanner } from "./squeeze.js";
import { ConnectionStatus } from "./status.js";

export const WIDGETS = [
  MarketOverview,
  AlertsFeed,
  GammaTracker,
  NarrativeBrain,
  SignalsCenter,
  DarkPoolFlow,
  OptionsFlow,
  SqueezeScanner,
  RedditSentiment,
  MacroIntelligence,
  ConnectionStatus,
];

export const DEFAULT_LAYOUT = {
  order: WIDGETS.map((W) => W.id),
  width: {
    market: 4,
    alerts: 2,
    gamma: 2,
    narrative: 2,
    signals: 2,
    darkpool: 2,
    options: 2,
    squeeze: 2,
    reddit: 2,
    macro: 2,
    status: 2,
  },
  height: {
    market: 1,
    alerts: 2,
    gamma: 2,
    narrative: 2,
    signals: 2,
    darkpool: 2,
    options: 2,
    squeeze: 2,
    reddit: 2,
    macro: 2,
    status: 1,
  },
};
