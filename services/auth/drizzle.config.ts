import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/db/mfa-schema.ts', './src/db/token-schema.ts', './src/db/oidc-schema.ts'],
  out: './drizzle',
  schemaFilter: ['auth'],
  migrations: { schema: 'auth', table: '__migrations' }
})
