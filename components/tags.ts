// Tags the program puts on what it deploys, so the local runner can find a deployed cleanup.

/** On every cleanup state machine: the runner refuses to delete while one of them is running. */
export const CLEANUP_COMPONENT_TAG = { key: "image-janitor:component", value: "ami-cleanup" } as const;
