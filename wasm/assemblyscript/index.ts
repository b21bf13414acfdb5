// The package's entry for asc, which resolves `import ... from "@flowcache/sdk"`
// to node_modules/@flowcache/sdk/index.ts.
export * from "./assembly/index";
