#!/usr/bin/env node
// The installed `facerec` command: the CLI's bundle (npm run build makes it; published with the package).
import "../dist/facerec.mjs";
