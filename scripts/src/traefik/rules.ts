/**
 * A small evaluator for the subset of Traefik v3 rule syntax the generator emits (`Path`,
 * `PathPrefix`, `Method`, `&&`, `||`, parentheses). Tests use it to prove which paths a generated
 * router would accept; it throws on anything else so a new matcher cannot slip past the checks.
 */
export interface RuleRequest {
  path: string
  method: string
}

type Token = { kind: 'and' | 'or' | 'lp' | 'rp' } | { kind: 'call'; name: string; arg: string }

function tokenize(rule: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < rule.length) {
    const c = rule[i]!
    if (c === ' ') {
      i++
    } else if (rule.startsWith('&&', i)) {
      tokens.push({ kind: 'and' })
      i += 2
    } else if (rule.startsWith('||', i)) {
      tokens.push({ kind: 'or' })
      i += 2
    } else if (c === '(') {
      tokens.push({ kind: 'lp' })
      i++
    } else if (c === ')') {
      tokens.push({ kind: 'rp' })
      i++
    } else {
      const m = /^(Path|PathPrefix|Method)\(`([^`]*)`\)/.exec(rule.slice(i))
      if (!m) throw new Error(`unsupported rule syntax at ${JSON.stringify(rule.slice(i))}`)
      tokens.push({ kind: 'call', name: m[1]!, arg: m[2]! })
      i += m[0].length
    }
  }
  return tokens
}

export function ruleMatches(rule: string, req: RuleRequest): boolean {
  const tokens = tokenize(rule)
  let pos = 0
  function primary(): boolean {
    const t = tokens[pos++]
    if (!t) throw new Error('unexpected end of rule')
    if (t.kind === 'lp') {
      const v = or()
      if (tokens[pos++]?.kind !== 'rp') throw new Error('missing )')
      return v
    }
    if (t.kind !== 'call') throw new Error(`unexpected ${t.kind}`)
    if (t.name === 'Path') return req.path === t.arg
    if (t.name === 'PathPrefix') return req.path.startsWith(t.arg)
    return req.method.toUpperCase() === t.arg.toUpperCase()
  }
  function and(): boolean {
    let v = primary()
    while (tokens[pos]?.kind === 'and') {
      pos++
      const r = primary()
      v = v && r
    }
    return v
  }
  function or(): boolean {
    let v = and()
    while (tokens[pos]?.kind === 'or') {
      pos++
      const r = and()
      v = v || r
    }
    return v
  }
  const result = or()
  if (pos !== tokens.length) throw new Error('trailing tokens in rule')
  return result
}
