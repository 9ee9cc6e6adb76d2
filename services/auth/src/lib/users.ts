import { eq } from 'drizzle-orm'
import type { Database } from '@palisade/platform'
import { users } from '../db/schema.js'

export interface UserRow {
  id: string
  email: string
  displayName: string
  passwordHash: string
  roles: string[]
  createdAt: Date
  disabledAt: Date | null
}

const userColumns = {
  id: users.id,
  email: users.email,
  displayName: users.displayName,
  passwordHash: users.passwordHash,
  roles: users.roles,
  createdAt: users.createdAt,
  disabledAt: users.disabledAt
}

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select(userColumns).from(users).where(eq(users.email, email)).limit(1)
  return row
}

export async function findUserById(db: Database, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select(userColumns).from(users).where(eq(users.id, id)).limit(1)
  return row
}
