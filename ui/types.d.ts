/**
 * Types for checking the page's script (`tsconfig.ui.json`); not shipped.
 * The page's data are the server's views, made mutable where the page
 * updates them from events.
 */
import type { QueryDetail as ServerQueryDetail } from '../lib/ui/board.js';
import type { StreamingQueryProgress } from '../lib/query/progress.js';
import type uPlotClass from 'uplot';

export type Progress = StreamingQueryProgress;

export type QueryDetail = { -readonly [K in Exclude<keyof ServerQueryDetail, 'recentProgress'>]: ServerQueryDetail[K] } & {
  recentProgress: Progress[];
};

declare global {
  /** uPlot's IIFE build, loaded by its own script tag. */
  const uPlot: typeof uPlotClass;
}
