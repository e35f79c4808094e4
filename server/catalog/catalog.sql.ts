import type { Queryable } from '../platform/db/db';

export interface ProductRow {
  id: string;
  name: string;
  description: string;
  prices: PriceRow[];
}

export interface PriceRow {
  id: string;
  product_id: string;
  currency: string;
  unit_amount: number;
  kind: 'one_time' | 'recurring';
  recurring_interval: string | null;
}

/** Active products with their active prices, in shop order, in one query. */
export async function listPricing(db: Queryable): Promise<ProductRow[]> {
  const { rows } = await db.query<ProductRow>(
    `select p.id, p.name, p.description,
            coalesce(
              jsonb_agg(jsonb_build_object(
                'id', pr.id, 'product_id', pr.product_id, 'currency', pr.currency,
                'unit_amount', pr.unit_amount, 'kind', pr.kind, 'recurring_interval', pr.recurring_interval
              ) order by pr.unit_amount, pr.id) filter (where pr.id is not null),
              '[]'::jsonb
            ) as prices
       from products p
       left join prices pr on pr.product_id = p.id and pr.active
      where p.active
      group by p.id
      order by p.sort_order, p.id`,
  );
  return rows;
}
