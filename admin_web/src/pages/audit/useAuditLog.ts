/** The audit log for some filters: the first page, and further pages appended on "Load more". */
import { useState } from "react";
import { listAudit, type AuditEntry, type AuditFilters, type AuditPage } from "../../api/admin";
import { useApiAction, useApiQuery } from "../../api/hooks";

export function useAuditLog(filters: AuditFilters) {
  const first = useApiQuery(JSON.stringify(filters), (api) => listAudit(api, filters));
  // Later pages belong to the first page they followed: a new filter or a reload starts again.
  const [later, setLater] = useState<{ after: AuditPage; items: AuditEntry[]; cursor: string | null }>();
  const more = useApiAction((api, sameFilters: AuditFilters, cursor: string) => listAudit(api, sameFilters, cursor));

  const following = first.data && later?.after === first.data ? later : undefined;
  const items = first.data ? [...first.data.items, ...(following?.items ?? [])] : undefined;
  const nextCursor = following ? following.cursor : (first.data?.next_cursor ?? null);

  async function loadMore() {
    const base = first.data;
    if (!base || !nextCursor) return;
    const page = await more.run(filters, nextCursor);
    if (!page) return;
    setLater((previous) => ({
      after: base,
      items: [...(previous?.after === base ? previous.items : []), ...page.items],
      cursor: page.next_cursor,
    }));
  }

  return { first, items, nextCursor, loadMore, loadingMore: more.pending, moreError: more.error };
}
