/** Issue 11's property-based fuzz suite against a vault on the real PostgreSQL server (see test/helpers/fuzz-suite.ts). */
import { describeFuzzSuite } from "../helpers/fuzz-suite.js";

describeFuzzSuite("postgres");
