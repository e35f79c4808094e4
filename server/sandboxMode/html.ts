// The demo storefront's HTML: one page frame and one escape for everything the pages interpolate, so
// the shop (storefront.ts) and the customer's pages (customerPages.ts) look alike and escape alike.
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const back = () => `<p><a href="${SANDBOX_STOREFRONT_PATH}">Back to the shop</a></p>`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Demo storefront</title>
<style>
  body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1f36;background:#f6f9fc}
  main{max-width:720px;margin:0 auto;padding:40px 24px}
  .card{background:#fff;border:1px solid #e3e8ee;border-radius:8px;padding:16px 20px;margin:16px 0}
  .price{font-weight:600} .note{color:#4f566b}
  .error{color:#a41c4e;background:#fde8ef;border-radius:6px;padding:8px 12px}
  .notice{color:#0d5f3a;background:#e6f6ee;border-radius:6px;padding:8px 12px}
  .actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:12px}
  .actions form{margin:0;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
  .actions label{margin:0}
  .offers{display:flex;flex-wrap:wrap;gap:8px 32px} .offers form{flex:1 1 240px}
  nav{display:flex;flex-wrap:wrap;gap:16px;align-items:center;justify-content:space-between}
  nav form{margin:0}
  label{display:block;margin:8px 0} input[type=email]{padding:6px;width:16rem;max-width:100%;box-sizing:border-box}
  select{padding:6px}
  input[type=text],input[type=datetime-local],textarea{padding:6px;width:16rem;max-width:100%;box-sizing:border-box;font:inherit}
  form.stacked input,form.stacked select{font:inherit} form.stacked label{display:flex;flex-direction:column;gap:2px}
  form.stacked label>*{width:100%;box-sizing:border-box}
  fieldset.member{border:1px solid #e3e8ee;border-radius:6px;margin:8px 0;padding:4px 12px 8px}
  ul.links{list-style:none;padding:0} ul.links p{margin:4px 0} .member-line{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
  .fields{display:flex;flex-wrap:wrap;gap:0 16px} .fields label{flex:1 1 12rem;margin:4px 0} .fields label.short{flex:0 1 8rem}
  button{background:#635bff;color:#fff;border:0;border-radius:6px;padding:8px 16px;font-weight:600;cursor:pointer}
  button.secondary{background:#fff;color:#4b42e0;border:1px solid #4b42e0}
  table{border-collapse:collapse;background:#fff;max-width:100%} th,td{border:1px solid #e3e8ee;padding:6px 12px;text-align:left}
  .id{overflow-wrap:anywhere} .nowrap{white-space:nowrap}
  @media (max-width:480px){main{padding:24px 12px} .card{padding:12px} th,td{padding:4px 8px}}
  a{color:#4b42e0}
</style></head><body><main>${body}</main></body></html>`;
}
