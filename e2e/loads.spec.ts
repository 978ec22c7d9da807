import { expect, openHome, sql, test } from './fixtures'
import { SERVER_URL } from './run-dir'

// An import loaded into a table the person has, as they would do it on the import's page:
// one column mapped by hand (its header differs), one of the file's columns not loaded, a check
// that finds the two bad lines, the load with them left out, the table read back.

const CSV = [
  'Customer Nr,E-Mail,Name,Balance,Internal',
  '1,ada@x.io,Ada,10.50,a',
  '2,bob@x.io,Bob,twenty,b', // line 3: not a number
  '3,cy@x.io,Cy,5,c',
  '4,dan@x.io,Danielle-Marie,7,d', // line 5: longer than varchar(10)
  '5,eve@x.io,Eve,1.25,e',
].join('\n') + '\n'

test('an import loaded into an existing table: mapped, checked, loaded with two bad lines left out', async ({ page }) => {
  await sql('DROP TABLE IF EXISTS public.e2e_customers')
  await sql('CREATE TABLE public.e2e_customers (id bigint PRIMARY KEY, email text UNIQUE, full_name varchar(10) NOT NULL, balance numeric(10,2))')
  await sql("INSERT INTO public.e2e_customers VALUES (100, 'old@x.io', 'Old', 0)")

  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) })
  const card = page.getByRole('article', { name: 'customers.csv' }).getByTestId('import-card')
  await expect(card).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  const id = (await card.getAttribute('data-import-id'))!
  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)

  const panel = page.getByTestId('load-panel')
  await panel.getByRole('button', { name: 'Load into a table…' }).click()
  await panel.getByRole('searchbox', { name: 'Find a table' }).fill('e2e_cust')
  await expect(panel.getByTestId('load-table').locator('option')).toHaveText(['Choose a table', /^public\.e2e_customers/])
  await panel.getByTestId('load-table').selectOption('public.e2e_customers')

  // email and balance match by name; id and full_name are mapped by hand; Internal is not loaded.
  await expect(panel.getByLabel('File column for email')).toHaveValue('e_mail')
  await expect(panel.getByLabel('File column for balance')).toHaveValue('balance')
  await panel.getByLabel('File column for id').selectOption({ label: 'Customer Nr' })
  await panel.getByLabel('File column for full_name').selectOption({ label: 'Name' })
  await expect(panel.getByTestId('load-skipped')).toHaveText('Not loaded from the file: Internal')

  await panel.getByRole('button', { name: 'Check' }).click()
  await expect(panel.getByTestId('load-check-effect')).toHaveText('Of 5 rows: 3 to insert · 2 cannot go in')
  await expect(panel.getByTestId('load-problem-example')).toHaveText([
    'line 3: twenty · invalid input syntax for type numeric: "twenty"',
    'line 5: Danielle-Marie · value too long for type character varying(10)',
  ])
  expect(await sql('SELECT count(*)::int AS n FROM public.e2e_customers')).toEqual([{ n: 1 }])

  await panel.getByRole('button', { name: 'Load', exact: true }).click()
  await expect(panel.getByTestId('load-progress')).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  await expect(panel.getByTestId('load-summary')).toContainText('Loaded: 3 inserted, 0 updated, 2 left out')
  await expect(panel.getByTestId('load-left-out-row').locator('td:first-child')).toHaveText(['3', '5'])
  expect(await sql('SELECT id::int, email, full_name, balance::text FROM public.e2e_customers ORDER BY id')).toEqual([
    { id: 1, email: 'ada@x.io', full_name: 'Ada', balance: '10.50' },
    { id: 3, email: 'cy@x.io', full_name: 'Cy', balance: '5.00' },
    { id: 5, email: 'eve@x.io', full_name: 'Eve', balance: '1.25' },
    { id: 100, email: 'old@x.io', full_name: 'Old', balance: '0.00' },
  ])
  await sql('DROP TABLE public.e2e_customers')
})
