#!/usr/bin/env node
/**
 * `kindling bench`: the load-test tool against a Kindling deployment (or one it starts here). The
 * `kindling` CLI runs this file as its `bench` subcommand in a process of its own, so the engine
 * never loads benchmark code. Without a scenario it runs the `load` scenario the flags describe.
 *
 *   kindling bench -e 200 -d 30s --url engine.internal:7077 --token …
 *   kindling bench w1 w3 --vs bullmq
 */
import { main } from './cli.js';

process.exitCode = await main('kindling bench', ['load'], process.argv.slice(2));
