// @vitest-environment jsdom
// The filters' menus come from the schema's enums (api/generated/enums.ts, written by codegen), and a
// date range is one control with presets; both apply at once and Clear filters empties every key.
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { buildSchema, isEnumType } from 'graphql';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as enums from '../../console/src/api/generated/enums';
import { enumOptions, FilterBar, type FilterField, utcDay } from '../../console/src/components/FilterBar';

afterEach(cleanup);

const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));

describe('enum menus', () => {
  it('every generated list is its schema enum’s values, in the schema’s order', () => {
    const lists = Object.entries(enums);
    expect(lists.length).toBeGreaterThan(10);
    for (const [name, values] of lists) {
      const type = schema.getType(name.replace(/Values$/, ''));
      expect(isEnumType(type), name).toBe(true);
      if (isEnumType(type)) expect(values).toEqual(type.getValues().map((v) => v.name));
    }
  });

  it('offers Any and each value in words, and applies a choice at once', async () => {
    const user = userEvent.setup();
    const onApply = vi.fn();
    const fields: FilterField[] = [{ name: 'status', label: 'Status', kind: 'select', options: enumOptions(enums.OrderStatusValues) }];
    render(<FilterBar fields={fields} values={{ status: '' }} onApply={onApply} />);
    const menu = screen.getByRole('combobox', { name: 'Status' }) as HTMLSelectElement;
    expect(Array.from(menu.options).map((o) => [o.value, o.textContent])).toEqual([
      ['', 'Any'],
      ...schema.getType('OrderStatus') && isEnumType(schema.getType('OrderStatus'))
        ? (schema.getType('OrderStatus') as import('graphql').GraphQLEnumType).getValues().map((v) => [v.name, v.name.charAt(0) + v.name.slice(1).toLowerCase().replaceAll('_', ' ')])
        : [],
    ]);
    await user.selectOptions(menu, 'PARTIALLY_REFUNDED');
    expect(onApply).toHaveBeenLastCalledWith({ status: 'PARTIALLY_REFUNDED' });
  });

  it('labels a menu’s values as the screen words them', () => {
    const fields: FilterField[] = [{ name: 'kind', label: 'Kind', kind: 'select', options: enumOptions(enums.MakeDeliveryKindValues, (v) => `kind ${v}`) }];
    render(<FilterBar fields={fields} values={{ kind: 'DEAD' }} onApply={() => {}} />);
    expect(within(screen.getByRole('combobox', { name: 'Kind' })).getByRole('option', { name: 'kind ADD_PROJECT' })).toBeTruthy();
  });
});

describe('date range', () => {
  const fields: FilterField[] = [
    { name: 'q', label: 'Search', kind: 'search' },
    { name: 'from', toName: 'to', label: 'Written (UTC days)', kind: 'dateRange' },
  ];

  it('is one group of From and To, applied with Apply, each in its own URL key', async () => {
    const user = userEvent.setup();
    const onApply = vi.fn();
    render(<FilterBar fields={fields} values={{ q: '', from: '', to: '' }} onApply={onApply} />);
    const range = screen.getByRole('group', { name: 'Written (UTC days)' });
    await user.type(within(range).getByLabelText(/From$/), '2026-11-01');
    await user.type(within(range).getByLabelText(/To$/), '2026-11-21');
    expect(onApply).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Apply' }));
    expect(onApply).toHaveBeenLastCalledWith({ q: '', from: '2026-11-01', to: '2026-11-21' });
  });

  it('applies a preset at once: the last 7 UTC days up to today', async () => {
    const user = userEvent.setup();
    const onApply = vi.fn();
    render(<FilterBar fields={fields} values={{ q: 'pi_1', from: '', to: '' }} onApply={onApply} />);
    await user.click(screen.getByRole('button', { name: 'Last 7 days' }));
    expect(onApply).toHaveBeenLastCalledWith({ q: 'pi_1', from: utcDay(6), to: utcDay(0) });
    expect(utcDay(6, new Date('2026-12-07T01:00:00Z'))).toBe('2026-12-01');
  });

  it('Clear filters empties both ends of the range', async () => {
    const user = userEvent.setup();
    const onApply = vi.fn();
    render(<FilterBar fields={fields} values={{ q: '', from: '2026-11-01', to: '2026-11-02' }} onApply={onApply} />);
    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(onApply).toHaveBeenLastCalledWith({ q: '', from: '', to: '' });
  });
});
