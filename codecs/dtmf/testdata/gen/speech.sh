#!/bin/sh
# Regenerates ../speech-8k.ul: about three minutes of synthetic speech
# (espeak-ng, several languages, voices, pitches and speeds) resampled to
# 8 kHz and stored as headerless G.711 µ-law. The DTMF talk-off test reads
# that file; run this script only when the corpus must change.
#
# Needs: espeak-ng, sox.  Usage: sh speech.sh   (from this directory)
set -eu
out=../speech-8k.ul
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0
say() { # voice pitch speed text
	n=$((n + 1))
	espeak-ng -v "$1" -p "$2" -s "$3" -w "$work/$n.wav" "$4"
	# 8 kHz mono, telephone band, peaks near -6 dBFS.
	sox "$work/$n.wav" -r 8000 -c 1 "$work/$n-8k.wav" sinc 300-3400 norm -6
}

say en-us 50 160 "Hello, thank you for calling. Please listen carefully, as our menu options have recently changed. For billing questions, say billing. For technical support, say support."
say en-us+f3 70 175 "I was wondering whether you could help me with my account. The number ends in four, seven, nine, two, and the last payment was made on the first of March."
say en-gb+m3 35 145 "Good morning everyone. The quarterly figures look encouraging, although the northern region reported a slight decline in sales over the winter months."
say en-gb+f2 80 190 "Oh really? That is wonderful news! We should celebrate, maybe dinner on Friday evening at the little Italian place around the corner?"
say de 45 155 "Guten Tag, hier spricht die automatische Ansage. Bitte haben Sie einen Moment Geduld, der nächste freie Mitarbeiter ist gleich für Sie da."
say de+f4 75 170 "Können Sie mir bitte sagen, wann der nächste Zug nach München fährt? Ich habe meinen Anschluss verpasst und muss dringend weiter."
say fr-fr 50 150 "Bonjour madame, je vous appelle au sujet de votre commande. Elle sera livrée mardi prochain entre neuf heures et midi."
say fr-fr+m7 20 140 "Nous avons bien reçu votre message. Un conseiller vous rappellera dans les plus brefs délais. Merci de votre patience."
say es 60 165 "Buenas tardes, quisiera reservar una mesa para cuatro personas el sábado por la noche, si es posible cerca de la ventana."
say it+f1 85 180 "Pronto, mi sente? La linea è molto disturbata, forse è meglio se la richiamo più tardi dal telefono fisso dell'ufficio."
say hi 55 150 "नमस्ते, आपका कॉल हमारे लिए महत्वपूर्ण है। कृपया लाइन पर बने रहें, हमारे प्रतिनिधि जल्द ही आपसे बात करेंगे।"
say en-us+m1 30 200 "One two three four five six seven eight nine zero. Star, pound, hash. Again: nine one one, four one one, eight hundred."
say en-us+f5 99 130 "Laaa, la la laaa. Ooooh, eeeee, aaaah. Mmmmm, hmmm. Whistle while you work, sing a song of sixpence, a pocket full of rye."
say nl 50 160 "Goedemiddag, u spreekt met de klantenservice. Waarmee kan ik u vandaag van dienst zijn? Heeft u uw klantnummer bij de hand?"
say pt+f3 65 170 "Olá, tudo bem? Estou ligando para confirmar a nossa reunião de amanhã às três horas da tarde no escritório central."
say sv+m4 40 155 "Hej, det här är ett automatiskt meddelande. Din beställning har skickats och beräknas komma fram inom tre arbetsdagar."
say en-gb-scotland 45 170 "Aye, it's a braw bricht moonlicht nicht the nicht. We'll be going up the loch tomorrow if the weather holds, which it rarely does."
say pl+f2 70 160 "Dzień dobry, dzwonię w sprawie ogłoszenia. Czy mieszkanie jest jeszcze dostępne i kiedy można by je obejrzeć?"
say en-us 10 120 "Deep voice, slow speech. The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs."
say en-us+f4 95 220 "High voice, fast speech. Sphinx of black quartz, judge my vow. How vexingly quick daft zebras jump. Waltz, bad nymph, for quick jigs vex."
say ja 50 150 "こんにちは、お電話ありがとうございます。ただいま電話が大変混み合っております。しばらくお待ちください。"
say ru+m2 40 160 "Здравствуйте, вы позвонили в службу поддержки. Пожалуйста, оставайтесь на линии, ваш звонок очень важен для нас."
say en-us+f1 60 165 "Let me read back the confirmation code: alpha, bravo, charlie, delta, echo, foxtrot, golf, hotel, india, juliet, kilo, lima."
say cmn 55 150 "你好，欢迎致电客户服务中心。请稍候，我们的工作人员将很快为您服务。谢谢您的耐心等待。"

files=""
i=1
while [ "$i" -le "$n" ]; do
	files="$files $work/$i-8k.wav"
	i=$((i + 1))
done
sox $files -t ul -r 8000 -c 1 "$out"
echo "wrote $out: $(wc -c <"$out") bytes"
