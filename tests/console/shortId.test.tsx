// @vitest-environment jsdom
// The shared id component: an id is shortened (never a tower of wrapped characters), the full id is its
// accessible name, its title on hover and its tooltip on focus, and the button copies the full id.
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { shortenId, ShortId } from '../../console/src/components/ShortId';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('shortenId', () => {
  it('keeps a Stripe id’s prefix with four characters and the last four', () => {
    expect(shortenId('pi_3QabcdefGHIJKLmnop1234')).toBe('pi_3Qab…1234');
    expect(shortenId('whsec_live_abcdefghijklmnop')).toBe('whsec_live_abcd…mnop');
  });
  it('keeps a UUID’s first eight and last four characters', () => {
    expect(shortenId('1a2b3c4d-0000-4000-8000-00000000f00e')).toBe('1a2b3c4d…f00e');
  });
  it('shows a short id whole', () => {
    expect(shortenId('evt_1')).toBe('evt_1');
    expect(shortenId('du_1Dispute001')).toBe('du_1Dispute001');
  });
});

describe('ShortId', () => {
  const id = 'pi_3QabcdefGHIJKLmnop1234';

  it('shows the short form; its link is named by, and titled with, the full id; the tooltip holds it for keyboard focus', () => {
    render(
      <MemoryRouter>
        <ShortId id={id} href="/orders/x" label={`Order ${id}`} what="order id" />
      </MemoryRouter>,
    );
    const link = screen.getByRole('link', { name: `Order ${id}` });
    expect(link.getAttribute('href')).toBe('/orders/x');
    expect(link.getAttribute('title')).toBe(id);
    // What the eye sees is short; what a screen reader or a text search reads is the full id.
    expect(link.querySelector('[aria-hidden="true"]')!.textContent).toBe('pi_3Qab…1234');
    // The name is the content's hidden text, not an aria-label (WCAG 2.5.3: the name holds what is seen).
    expect(link.hasAttribute('aria-label')).toBe(false);
    expect(screen.getByText(`Order ${id}`).className).toBe('visually-hidden');
    expect(link.closest('.short-id')!.getAttribute('data-full')).toBe(id);
  });

  it('opens an external page in a new tab', () => {
    render(<ShortId id={id} href="https://dashboard.stripe.com/test/payments/x" external label={`${id} in Stripe's dashboard`} />);
    const link = screen.getByRole('link', { name: `${id} in Stripe's dashboard` });
    expect(link.getAttribute('target')).toBe('_blank');
    expect(link.getAttribute('rel')).toContain('noopener');
  });

  it('copies the full id and says so', async () => {
    const writeText = vi.fn(() => Promise.resolve());
    const user = userEvent.setup();
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    render(<ShortId id={id} what="PaymentIntent id" />);
    await user.click(screen.getByRole('button', { name: 'Copy PaymentIntent id' }));
    expect(writeText).toHaveBeenCalledWith(id);
    expect(await screen.findByText('Copied')).toBeTruthy();
  });

  it('says so when the clipboard is not there (an insecure page)', async () => {
    const user = userEvent.setup();
    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
    render(<ShortId id={id} />);
    const button = screen.getByRole('button', { name: `Copy ${id}` });
    await user.click(button);
    expect(within(button.parentElement!).getByRole('status').textContent).toBe('Could not copy: select the id instead');
  });

  it('has no copy tooltip for an id shown whole, but still a copy button', () => {
    render(<ShortId id="evt_1" />);
    expect(screen.getByText('evt_1').closest('.short-id')!.hasAttribute('data-full')).toBe(false);
    expect(screen.getByRole('button', { name: 'Copy evt_1' })).toBeTruthy();
  });
});
