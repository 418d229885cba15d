package core

// OCIComponent exposes the repository-component grammar check so it can be
// tested on its own, without the character filter parseOCI runs first.
var OCIComponent = ociComponent
