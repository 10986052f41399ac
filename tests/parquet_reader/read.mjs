// Reads one Parquet file with hyparquet (not DuckDB) and prints JSON:
// {"rows": N, "columns": [...], "sums": {column: sum of numeric values}}.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const file = await asyncBufferFromFile(process.argv[2])
const metadata = await parquetMetadataAsync(file)
const rows = await parquetReadObjects({ file, compressors })
const columns = metadata.schema.slice(1).map((c) => c.name)
const sums = {}
for (const c of columns) {
  let sum = 0
  let numeric = false
  for (const r of rows) {
    const v = r[c]
    if (typeof v === 'number' || typeof v === 'bigint') {
      sum += Number(v)
      numeric = true
    }
  }
  if (numeric) sums[c] = sum
}
console.log(JSON.stringify({ rows: rows.length, columns, sums }))
