/*
 * Feeds every file under the directories (or the files) named on the
 * command line to LLVMFuzzerTestOneInput(), once each: the corpus as a
 * regression test, with any compiler and no libFuzzer.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	replay_file(const char *);
static int	replay_dir(const char *);

static int
replay_file(const char *path)
{
	FILE	*f;
	uint8_t	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		goto fail;
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) == -1 ||
	    fseek(f, 0, SEEK_SET) == -1)
		goto fail_close;
	/* Exactly n bytes, so a sanitizer sees a read past the end. */
	if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		goto fail_close;
	if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		goto fail_close;
	}
	(void)fclose(f);
	(void)LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return (0);

fail_close:
	(void)fclose(f);
fail:
	fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
	return (-1);
}

static int
replay_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4096];
	int		 n = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (replay_file(path) == -1) {
			n = -1;
			break;
		}
		n++;
	}
	(void)closedir(d);
	return (n);
}

int
main(int argc, char **argv)
{
	struct stat	st;
	int		i, n, total = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return (1);
		}
		if (S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(argv[i]) == 0 ? 1 : -1;
		if (n == -1)
			return (1);
		total += n;
	}
	printf("replay: %d inputs\n", total);
	return (0);
}
