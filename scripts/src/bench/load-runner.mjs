// Load generator, run as its own process so that it never competes with the server under test for
// an event loop and the server's CPU time can be measured alone: `node load-runner.mjs '<options json>'`.
// Prints autocannon's result as JSON on stdout.
import autocannon from 'autocannon'

const opts = JSON.parse(process.argv[2] ?? '{}')
const result = await autocannon(opts)
process.stdout.write(JSON.stringify(result))
