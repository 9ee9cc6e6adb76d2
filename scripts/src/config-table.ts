// `pnpm config:table`: prints the configuration table of README.md (see config/table.ts).
import { renderConfigTable } from './config/table.js'

process.stdout.write(await renderConfigTable())
