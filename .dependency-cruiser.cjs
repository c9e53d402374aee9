/**
 * The layering of STYLE.md, checked by a tool (`npm run layering`, part of `npm run verify`):
 *
 *   src/lib            imports nothing of Kindling's outside src/lib
 *   protocol/          imports only src/lib
 *   store/, actors/    import src/lib and protocol/, never each other
 *   src/engine         joins actors/, store/ and protocol/
 *   src/sdk            protocol/ and src/lib only — never the engine
 *   src/api, cli, dashboard sit on top
 *   production code never imports test/ or bench/; nothing imports in a cycle
 */
const production = '^(src|store|actors|protocol)/';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lib-is-the-floor',
      comment: 'src/lib is shared by every layer, so it may import nothing above it.',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^(store|actors|protocol|bench|test)/|^src/(?!lib/)' },
    },
    {
      name: 'protocol-is-the-wire-only',
      severity: 'error',
      from: { path: '^protocol/' },
      to: { path: '^(store|actors|bench|test)/|^src/(?!lib/)' },
    },
    {
      name: 'store-knows-no-actors',
      severity: 'error',
      from: { path: '^store/' },
      to: { path: '^(actors|bench|test)/|^src/(?!lib/)' },
    },
    {
      name: 'actors-are-pure',
      comment: 'Actors are deciders: they never touch storage or the engine that hosts them.',
      severity: 'error',
      from: { path: '^actors/' },
      to: { path: '^(store|bench|test)/|^src/(?!lib/)' },
    },
    {
      name: 'sdk-never-imports-the-engine',
      severity: 'error',
      from: { path: '^src/sdk/' },
      to: { path: '^(store|actors)/|^src/(engine|api|cli|dashboard)/' },
    },
    {
      name: 'engine-sits-below-the-outside',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(sdk|api|cli|dashboard)/' },
    },
    {
      name: 'production-never-imports-tests-or-bench',
      severity: 'error',
      from: { path: production },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(build|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
