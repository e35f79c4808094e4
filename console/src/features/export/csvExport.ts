// CSV export (issue 22): the server streams a staff list as a CSV file at /export/<list>.csv with the
// list's filters as query parameters, authenticated with the bearer token as /graphql is. A link
// cannot carry the header, so the console fetches it, takes the body as a blob and saves it under the
// name the server gives.
import { sessionStore } from '../../auth/session';

export type ExportList = 'payment-logs' | 'orders' | 'refunds';

/** The export's URL: the filter's set values as query parameters (the GraphQL filter's field names). */
export function exportUrl(list: ExportList, filter: Record<string, string | null | undefined> | undefined): string {
  const url = new URL(`/export/${list}.csv`, globalThis.location?.origin ?? 'http://localhost');
  for (const [name, value] of Object.entries(filter ?? {})) {
    if (value) url.searchParams.set(name, value);
  }
  return url.toString();
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** The server's error in words: its JSON message, or the status when it sent none. */
async function refusal(response: Response): Promise<ExportError> {
  if (response.status === 401) {
    sessionStore.expire();
    return new ExportError('Your session has ended. Sign in again.');
  }
  if (response.status === 403) return new ExportError('Your role may not export.');
  try {
    const body = (await response.json()) as { message?: string };
    if (body.message) return new ExportError(body.message);
  } catch {
    // Not JSON: say the status.
  }
  return new ExportError(`The export failed (the server answered ${response.status}). Try again.`);
}

/** The file name from Content-Disposition, else <list>.csv. */
export function exportFileName(response: Response, list: ExportList): string {
  const match = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
  return match?.[1] ?? `${list}.csv`;
}

/** Downloads the export: the whole file is read, then saved through a temporary object URL. */
export async function downloadExport(list: ExportList, filter: Record<string, string | null | undefined> | undefined): Promise<string> {
  const token = sessionStore.token();
  let response: Response;
  try {
    response = await fetch(exportUrl(list, filter), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch {
    throw new ExportError('The server could not be reached. Check your connection and try again.');
  }
  if (!response.ok) throw await refusal(response);
  const blob = await response.blob();
  const name = exportFileName(response, list);
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // After the click has handed the file to the browser.
  setTimeout(() => URL.revokeObjectURL(href), 0);
  return name;
}
