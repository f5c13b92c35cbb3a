# dirgate's container image: one static binary on an empty base, run as a
# non-root user, with the demo as its default command.
#
#   docker build -t dirgate .
#   docker run --rm -p 8080:8080 dirgate                  # the demo
#   docker run --rm -p 8080:8080 -v "$PWD/dirgate.yaml:/etc/dirgate/dirgate.yaml:ro" \
#     -e DIRGATE_CONFIG=/etc/dirgate/dirgate.yaml -e CONCUR_CLIENT_SECRET=... dirgate -addr 0.0.0.0:8080
#
# The build context includes .git, so that `dirgate -version` names the
# revision the image was built from.

# The Go toolchain the binary is built with. .ci/run, which has no image
# registry, passes a stand-in made of the CI machine's own toolchain.
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A static binary (no cgo), and what the empty base lacks: the CA
# certificates vendors' TLS needs, and a state directory for the Concur
# token store, owned by the user dirgate runs as.
RUN go build -trimpath -ldflags='-s -w' -o /out/dirgate . \
 && /out/dirgate -version \
 && mkdir -p /out/etc/ssl/certs /out/var/lib/dirgate \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/var/lib/dirgate /var/lib/dirgate
COPY --from=build /out/dirgate /dirgate
# Not root: a numeric user, since an empty base has no /etc/passwd.
USER 65532:65532
# dirgate.example.yaml keeps the Concur token store in $DIRGATE_STATE_DIR.
ENV DIRGATE_STATE_DIR=/var/lib/dirgate
EXPOSE 8080
# No curl in an empty image: the binary asks its own /healthz (at -addr,
# else the configuration's server.addr, else 127.0.0.1:8080).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s CMD ["/dirgate", "-healthcheck"]
ENTRYPOINT ["/dirgate"]
# The demo, reachable from outside the container: synthetic people only.
CMD ["-demo", "-addr", "0.0.0.0:8080"]
