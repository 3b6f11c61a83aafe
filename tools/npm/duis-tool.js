// Run DCC's DUIS tools on a file for the rig's interop tests.
//   node duis-tool.js parse FILE      -> duis-parser "simplified" JSON on stdout
//   node duis-tool.js sign FILE       -> duis-sign-wrap signed XML on stdout
//   node duis-tool.js validate FILE   -> duis-sign-wrap validation (exit 10 if invalid)
'use strict'
const fs = require('fs')
const { parseDuis } = require('@smartdcc/duis-parser')
const { signDuis, validateDuis } = require('@smartdcc/duis-sign-wrap')

const [mode, file] = process.argv.slice(2)
const xml = fs.readFileSync(file)
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x))

async function main () {
  if (mode === 'parse') {
    process.stdout.write(json(parseDuis('simplified', xml)) + '\n')
  } else if (mode === 'sign') {
    process.stdout.write(await signDuis({ xml }))
  } else if (mode === 'validate') {
    process.stdout.write(await validateDuis({ xml }))
  } else {
    throw new Error(`unknown mode ${mode}: parse | sign | validate`)
  }
}
main().catch((e) => { process.stderr.write(String(e && e.message || e) + '\n'); process.exit(e && /validation failed/.test(e.message) ? 10 : 1) })
