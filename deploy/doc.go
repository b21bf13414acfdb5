// Package deploy holds no code: its tests check the deployment files beside
// it (kubernetes/, compose/) with kubeconform against the Kubernetes
// schemas vendored in testdata/schemas.
package deploy
