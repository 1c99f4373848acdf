/** DynamoDB's paginated reads (Query, Scan) read to the end: every page's items, in order. */

/** One page of a Query or Scan: its items and where the next page starts (absent on the last). */
export interface ItemPage {
  Items?: Record<string, unknown>[];
  LastEvaluatedKey?: Record<string, unknown>;
}

/** Calls `page` with each ExclusiveStartKey until the last page; returns every item. */
export async function allPages(page: (startKey: Record<string, unknown> | undefined) => Promise<ItemPage>): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await page(startKey);
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}
