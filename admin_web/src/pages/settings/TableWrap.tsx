/**
 * `.table-wrap` for these pages' tables: positioned, so visually-hidden labels inside a scrolling table are
 * clipped with it instead of widening the page on a phone; and focusable, so a keyboard can scroll a table that
 * holds no buttons (finance's view) — axe's scrollable-region-focusable.
 */
import type { CSSProperties, ReactNode } from "react";

export function TableWrap({ label, children, style }: { label: string; children: ReactNode; style?: CSSProperties }) {
  return (
    <div className="table-wrap" style={{ position: "relative", ...style }} tabIndex={0} role="group" aria-label={label}>
      {children}
    </div>
  );
}
