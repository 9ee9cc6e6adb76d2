// The workspace's import rules (docs/CONTRIBUTING.md, "Rules"), checked by `pnpm deps:check`.
// Paths are matched after resolution, so `@palisade/chat` and `../../chat/src/app.js` both land on
// `services/chat/...` and break the same rule.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'contracts-imports-nothing-of-ours',
      comment: 'libs/contracts is the bottom layer: schemas and types only.',
      severity: 'error',
      from: { path: '^libs/contracts/' },
      to: { path: '^(libs/(?!contracts/)|services/|scripts/|tests/)' }
    },
    {
      name: 'platform-imports-contracts-only',
      comment: 'libs/platform builds on contracts and on nothing else of ours.',
      severity: 'error',
      from: { path: '^libs/platform/' },
      to: { path: '^(libs/(?!(contracts|platform)/)|services/|scripts/|tests/)' }
    },
    {
      name: 'service-imports-no-other-service',
      comment: 'A service (src and unit tests) talks to another one over HTTP or NATS only; tests that need several services live in tests/integration.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' }
    },
    {
      name: 'service-imports-libs-only',
      comment: 'A service imports contracts and platform (its tests also platform/testing and testkit), never scripts or the integration tests.',
      severity: 'error',
      from: { path: '^services/' },
      to: { path: '^(scripts/|tests/)' }
    },
    {
      name: 'service-src-imports-no-test-helpers',
      comment: "Test helpers are for tests: a service's sources never import testkit or platform/testing.",
      severity: 'error',
      from: { path: '^services/[^/]+/(src|client)/' },
      to: { path: '^libs/(testkit/|platform/src/testing/)' }
    },
    {
      name: 'testkit-imports-no-service',
      comment: "testkit serves every service's unit tests, so it knows none of them (it starts auth as a process by path).",
      severity: 'error',
      from: { path: '^libs/testkit/' },
      to: { path: '^(services/|scripts/|tests/)' }
    },
    {
      name: 'scripts-import-no-service',
      comment: 'scripts import libs and start services as processes by path, never import their sources.',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^(services/|tests/)' }
    },
    {
      name: 'nothing-imports-the-integration-tests',
      comment: 'tests/integration may import anything; nothing imports it.',
      severity: 'error',
      from: { path: '^(libs|services|scripts)/' },
      to: { path: '^tests/' }
    }
  ],
  options: {
    includeOnly: '^(libs|services|scripts|tests)/',
    exclude: { path: '(^|/)(node_modules|dist)/' },
    doNotFollow: { path: 'node_modules' },
    // Type-only imports couple packages just as much.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    // Workspace packages export their sources under the `development` condition.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['development', 'import', 'types', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types']
    },
    moduleSystems: ['es6', 'cjs']
  }
}
