// `npm start`: will start Cove (API server + runner + proxy in one process, embedded Postgres,
// the local Docker engine). Until the API server exists it says so and exits non-zero.
process.stderr.write(
  "Cove cannot start yet: the API server, runner and proxy are not built.\n" +
    "What exists today (the contract, generated clients, shared runtime) is tested by `npm test`;\n" +
    "see docs/ARCHITECTURE.md.\n",
);
process.exit(1);
