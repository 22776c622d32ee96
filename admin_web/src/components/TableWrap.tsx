/**
 * The `.table-wrap` around every table: it scrolls sideways on a phone and is positioned, so visually-hidden
 * labels inside a scrolling table are clipped with it instead of widening the page; it is focusable, so a keyboard
 * can scroll a table that holds no buttons (finance's view) — axe's scrollable-region-focusable.
 */
import type { CSSProperties, ReactNode } from "react";

export function TableWrap({ label, busy, style, children }: { label: string; busy?: boolean; style?: CSSProperties; children: ReactNode }) {
  return (
    <div className="table-wrap" style={{ position: "relative", ...style }} tabIndex={0} role="group" aria-label={label} aria-busy={busy}>
      {children}
    </div>
  );
}
